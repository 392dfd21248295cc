package caddyciba

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddyciba/gateway/consent"
	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/op"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
	"github.com/caddyciba/gateway/internal/users"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "ciba",
		Short: "Tools for the caddyciba gateway: secrets, users, client keys, consents",
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(hashSecretCommand(), addUserCommand(), keygenCommand(), consentsCommand())
		},
	})
}

// readSecretLine reads one line from stdin, without its line ending.
func readSecretLine(in io.Reader) (string, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("nothing on standard input")
	}
	return line, nil
}

func hashSecretCommand() *cobra.Command {
	var generate bool
	cmd := &cobra.Command{
		Use:   "hash-secret [--generate]",
		Short: "Print the secret_hash of a client secret read from standard input",
		Long: "Reads a client secret from standard input and prints the line for the client's block\n" +
			"(secret_hash sha256$...), so the config holds no secret. With --generate it makes a\n" +
			"256-bit secret, prints it to standard error for the TPP, and its hash.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var secret string
			var err error
			if generate {
				if secret, err = token.New(); err != nil {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "secret (give it to the TPP, then forget it):", secret)
			} else if secret, err = readSecretLine(cmd.InOrStdin()); err != nil {
				return err
			}
			h, err := clients.HashSecret(secret)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "secret_hash", h)
			return nil
		},
	}
	cmd.Flags().BoolVar(&generate, "generate", false, "make a new random secret")
	return cmd
}

func addUserCommand() *cobra.Command {
	var file, subject, name, email string
	var hints, accounts []string
	var passwordStdin, disabled bool
	cmd := &cobra.Command{
		Use:   "add-user --users FILE --subject SUB --login-hint HINT [--account ID[:Nickname]]... [--password-stdin]",
		Short: "Add a user to a users file, with a bcrypt password read from standard input",
		Long: "Adds one user to the users file (made if absent) and checks the whole file as the gateway\n" +
			"will. The file is replaced in one step, so a running gateway reloads a complete file.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			u := map[string]any{"subject": subject, "login_hints": hints}
			if name != "" {
				u["name"] = name
			}
			if email != "" {
				u["email"] = email
			}
			if disabled {
				u["disabled"] = true
			}
			list := []map[string]any{}
			for _, a := range accounts {
				id, nick, _ := strings.Cut(a, ":")
				acct := map[string]any{"AccountId": id}
				if nick != "" {
					acct["Nickname"] = nick
				}
				list = append(list, acct)
			}
			u["accounts"] = list
			if passwordStdin {
				pw, err := readSecretLine(cmd.InOrStdin())
				if err != nil {
					return err
				}
				hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
				if err != nil {
					return err
				}
				u["password_hash"] = string(hash)
			}
			return appendUser(file, u)
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "users", "", "the users file")
	f.StringVar(&subject, "subject", "", "the user's subject (sub of the ID token)")
	f.StringArrayVar(&hints, "login-hint", nil, "a login hint of the user (repeatable)")
	f.StringVar(&name, "name", "", "the user's name")
	f.StringVar(&email, "email", "", "where the smtp channel mails the device link")
	f.StringArrayVar(&accounts, "account", nil, "an account, AccountId[:Nickname] (repeatable)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the approval page password from standard input")
	f.BoolVar(&disabled, "disabled", false, "add the user disabled")
	_ = cmd.MarkFlagRequired("users")
	_ = cmd.MarkFlagRequired("subject")
	_ = cmd.MarkFlagRequired("login-hint")
	return cmd
}

// appendUser adds u to the users file, checks the result and swaps it in by rename.
func appendUser(path string, u map[string]any) error {
	var list []json.RawMessage
	switch buf, err := os.ReadFile(path); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(buf, &list); err != nil {
			return fmt.Errorf("users file %s: %w", path, err)
		}
	}
	one, err := json.Marshal(u)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(append(list, one), "", "  ")
	if err != nil {
		return err
	}
	if _, err := users.Parse(out); err != nil {
		return fmt.Errorf("the users file would not load: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".users-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// clientRSABits is the modulus size of the PS256 client keys keygen makes: a client key
// lives as long as the TPP keeps it, so it is larger than the gateway's rotated keys.
const clientRSABits = 3072

func keygenCommand() *cobra.Command {
	var alg, kid, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --alg ES256|PS256|EdDSA --kid KID --out PREFIX [--force]",
		Short: "Make a client key pair: PREFIX.private.jwk.json for the TPP, PREFIX.jwks.json for jwks_file",
		Long: "Makes a client key pair: PREFIX.private.jwk.json for the TPP, PREFIX.jwks.json for jwks_file.\n" +
			"Existing files are never replaced unless --force is given: a key in use would be lost.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				for _, path := range []string{out + ".private.jwk.json", out + ".jwks.json"} {
					if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("%s exists: keygen does not replace a key without --force", path)
					}
				}
			}
			sigAlg, err := keys.ParseAlg(alg)
			if err != nil {
				return fmt.Errorf("--alg %q: ES256, PS256 or EdDSA", alg)
			}
			if kid == "" {
				kid = fmt.Sprintf("%s-%d", strings.ToLower(alg), time.Now().Unix())
			}
			private, err := keys.NewSigningKey(sigAlg, kid, clientRSABits)
			if err != nil {
				return err
			}
			public, err := jwk.PublicKeyOf(private)
			if err != nil {
				return err
			}
			set := jwk.NewSet()
			if err := set.AddKey(public); err != nil {
				return err
			}
			if err := writeJSON(out+".private.jwk.json", private, 0o600); err != nil {
				return err
			}
			if err := writeJSON(out+".jwks.json", set, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.private.jwk.json (keep it with the TPP) and %s.jwks.json (jwks_file), kid %s\n", out, out, kid)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&alg, "alg", "ES256", "ES256, PS256 or EdDSA")
	f.StringVar(&kid, "kid", "", "the key id (default: the alg and the time)")
	f.StringVar(&out, "out", "", "the files' path prefix")
	f.BoolVar(&force, "force", false, "replace existing key files")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func writeJSON(path string, v any, mode os.FileMode) error {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(buf, '\n'), mode)
}

// consentLine is one consent as the consents command lists it.
type consentLine struct {
	ConsentID   string               `json:"ConsentId"`
	ClientID    string               `json:"client_id"`
	Status      consent.Status       `json:"status"`
	Permissions []consent.Permission `json:"permissions"`
	Accounts    []string             `json:"accounts,omitempty"`
	Created     time.Time            `json:"created"`
	Expires     string               `json:"expires,omitempty"`
}

func consentsCommand() *cobra.Command {
	var dir, dsn, clientID, status string
	cmd := &cobra.Command{
		Use:   "consents [--storage DIR | --postgres DSN] [--client ID] [--status STATUS]",
		Short: "List the consents in a stopped gateway's storage (or a PostgreSQL one's, running or not), one JSON object a line",
		Long: "Lists the consents in a stopped gateway's storage (or a PostgreSQL one's, running or not), one\n" +
			"JSON object a line. Badger storage is opened read-only: the command changes nothing there, and\n" +
			"a directory without storage is an error.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s store.Store
			var err error
			if dsn != "" {
				s, err = store.OpenPostgres(dsn, store.PostgresOptions{MaxConns: 2})
			} else {
				switch s, err = store.OpenBadgerReadOnly(dir); {
				case errors.Is(err, store.ErrNoStore):
					err = fmt.Errorf("%s holds no gateway storage: give --storage the directory of the ciba app's storage option", dir)
				case err != nil:
					err = fmt.Errorf("open %s read-only (is the gateway still running?): %w", dir, err)
				}
			}
			if err != nil {
				return err
			}
			defer s.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			return op.EachConsent(s, time.Now(), op.Filter{ClientID: clientID, Status: status}, func(c *consent.Consent) error {
				line := consentLine{ConsentID: c.ID, ClientID: c.ClientID, Status: c.Status, Permissions: c.Permissions,
					Accounts: c.AccountIDs, Created: c.CreatedAt}
				if c.Expiration != nil {
					line.Expires = c.Expiration.Raw
				}
				return enc.Encode(line)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "storage", filepath.Join(caddy.AppDataDir(), "ciba"), "the gateway's storage directory")
	f.StringVar(&dsn, "postgres", "", "the gateway's PostgreSQL database (a DSN), instead of --storage")
	f.StringVar(&clientID, "client", "", "only this client's consents")
	f.StringVar(&status, "status", "", "only consents in this status")
	return cmd
}
