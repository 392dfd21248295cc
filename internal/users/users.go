// Package users is the user directory: the JSON users file that maps login hints to
// subjects, passwords and accounts.
package users

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// Account is one account the user may pick on the device. Fields beyond AccountId and
// Nickname are kept as given, for display.
type Account struct {
	AccountID string
	Nickname  string
	// Fields holds the whole object as written, for display.
	Fields map[string]any
}

// UnmarshalJSON keeps every field of the account object.
func (a *Account) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &a.Fields); err != nil {
		return err
	}
	id, _ := a.Fields["AccountId"].(string)
	nick, _ := a.Fields["Nickname"].(string)
	a.AccountID, a.Nickname = id, nick
	return nil
}

// MarshalJSON writes the account as it was read.
func (a Account) MarshalJSON() ([]byte, error) { return json.Marshal(a.Fields) }

// User is one entry of the users file.
type User struct {
	Subject    string   `json:"subject"`
	LoginHints []string `json:"login_hints"`
	Name       string   `json:"name,omitempty"`
	// Email is where the smtp channel mails the device link; when empty, the first login
	// hint that is a mail address.
	Email        string    `json:"email,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	Accounts     []Account `json:"accounts"`
}

// passwordChecks counts bcrypt comparisons, so tests can see how many guesses were checked.
var passwordChecks atomic.Int64

// CheckPassword tells whether password is the user's; a user without a password has
// none to check.
func (u *User) CheckPassword(password string) bool {
	if u.PasswordHash == "" {
		return false
	}
	passwordChecks.Add(1)
	return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
}

// MailAddress is where the user's mail goes, or "".
func (u *User) MailAddress() string {
	if u.Email != "" {
		return u.Email
	}
	for _, h := range u.LoginHints {
		if a, err := mail.ParseAddress(h); err == nil && a.Address == h {
			return h
		}
	}
	return ""
}

// HasAccount tells whether the account is one of the user's.
func (u *User) HasAccount(id string) bool {
	for _, a := range u.Accounts {
		if a.AccountID == id {
			return true
		}
	}
	return false
}

// Directory resolves login hints to users; read-only once built.
type Directory struct {
	bySubject map[string]*User
	byHint    map[string]*User
}

// maxFileBytes bounds the users file read into memory.
const maxFileBytes = 64 << 20

// LoadFile reads and validates a users file.
func LoadFile(path string) (*Directory, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("users file %s is larger than %d bytes", path, maxFileBytes)
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	d, err := Parse(buf)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return d, nil
}

// Parse validates the JSON array of users: unique subjects and hints, at least one hint,
// unique account ids per user, bcrypt hashes where a password is set.
func Parse(buf []byte) (*Directory, error) {
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.DisallowUnknownFields()
	var list []*User
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("not a JSON array of users: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the users array")
	}
	d := Empty()
	for i, u := range list {
		if err := d.add(u); err != nil {
			return nil, fmt.Errorf("user %d: %w", i, err)
		}
	}
	return d, nil
}

func (d *Directory) add(u *User) error {
	if u == nil || strings.TrimSpace(u.Subject) == "" {
		return errors.New("subject is required")
	}
	if _, dup := d.bySubject[u.Subject]; dup {
		return fmt.Errorf("subject %q appears twice", u.Subject)
	}
	if len(u.LoginHints) == 0 {
		return fmt.Errorf("subject %q has no login_hints", u.Subject)
	}
	if u.PasswordHash != "" && !strings.HasPrefix(u.PasswordHash, "$2") {
		return fmt.Errorf("subject %q: password_hash must be a bcrypt hash", u.Subject)
	}
	if u.Email != "" {
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
			return fmt.Errorf("subject %q: email %q is not a bare mail address", u.Subject, u.Email)
		}
	}
	seen := map[string]bool{}
	for _, a := range u.Accounts {
		if a.AccountID == "" || seen[a.AccountID] {
			return fmt.Errorf("subject %q: account ids must be present and unique", u.Subject)
		}
		seen[a.AccountID] = true
	}
	for _, h := range u.LoginHints {
		if h == "" {
			return fmt.Errorf("subject %q has an empty login hint", u.Subject)
		}
		if _, dup := d.byHint[h]; dup {
			return fmt.Errorf("login hint %q belongs to two users", h)
		}
		d.byHint[h] = u
	}
	d.bySubject[u.Subject] = u
	return nil
}

// Empty is a directory without users: every hint is unknown.
func Empty() *Directory {
	return &Directory{bySubject: map[string]*User{}, byHint: map[string]*User{}}
}

// ByHint returns the user a login hint names, or nil.
func (d *Directory) ByHint(hint string) *User { return d.byHint[hint] }

// BySubject returns the user with that subject, or nil.
func (d *Directory) BySubject(sub string) *User { return d.bySubject[sub] }

// Len is the number of users.
func (d *Directory) Len() int { return len(d.bySubject) }
