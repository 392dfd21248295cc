package op

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyciba/gateway/internal/clients"
	"github.com/caddyciba/gateway/internal/keys"
	"github.com/caddyciba/gateway/internal/oauth"
	"github.com/caddyciba/gateway/internal/obie"
	"github.com/caddyciba/gateway/internal/store"
	"github.com/caddyciba/gateway/internal/token"
)

// observed gives the provider a logger named ciba, as Caddy's app does, that records
// every entry.
func observed(p *Provider) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	p.UseLogger(zap.New(core).Named("ciba"))
	return logs
}

// TestServerErrorLoggedWithCause: when the store fails, the answer is the same 500 as
// ever, without the failure's text, and the one log line of the request is at error level
// under ciba.flow and names the cause; a refusal of the caller's request is one warn line
// without an error field.
func TestServerErrorLoggedWithCause(t *testing.T) {
	for _, tc := range []struct {
		name         string
		serve        func(*Provider) http.HandlerFunc
		path, form   string
		closeStore   bool
		wantStatus   int
		wantBody     string
		wantLevel    zapcore.Level
		wantField    string // a field the line must have, with its value
		wantValue    string
		wantCauseIn  string // "" when the line must hold no error field
		wantOutcome  string
		wantMessage  string
		wantLogLines int
	}{
		{
			name: "token: the store is closed", serve: func(p *Provider) http.HandlerFunc { return p.ServeToken },
			path: PathToken, form: "grant_type=client_credentials&scope=accounts", closeStore: true,
			// The token is self-contained: the store is read for the gateway's key only.
			wantStatus: 500, wantBody: `{"error":"server_error","error_description":"the token key could not be read"}` + "\n",
			wantLevel: zapcore.ErrorLevel, wantField: "step", wantValue: "token", wantOutcome: "server_error",
			wantCauseIn: "server_error: the token key could not be read: ", wantMessage: "ciba flow step", wantLogLines: 1,
		},
		{
			name: "revocation (no flow step): the store is closed", serve: func(p *Provider) http.HandlerFunc { return p.ServeRevocation },
			path: PathRevocation, form: "token=not-a-token", closeStore: true,
			wantStatus: 500, wantBody: `{"error":"server_error","error_description":"the revocation could not be stored"}` + "\n",
			wantLevel: zapcore.ErrorLevel, wantField: "endpoint", wantValue: "revocation",
			wantCauseIn: "server_error: the revocation could not be stored: ", wantMessage: "request failed", wantLogLines: 1,
		},
		{
			name: "token: grant_type missing", serve: func(p *Provider) http.HandlerFunc { return p.ServeToken },
			path: PathToken, form: "scope=accounts",
			wantStatus: 400, wantBody: `{"error":"invalid_request","error_description":"grant_type is missing"}` + "\n",
			wantLevel: zapcore.WarnLevel, wantField: "step", wantValue: "token", wantOutcome: "invalid_request",
			wantMessage: "ciba flow step", wantLogLines: 1,
		},
		{
			name: "revocation: token missing is not logged", serve: func(p *Provider) http.HandlerFunc { return p.ServeRevocation },
			path: PathRevocation, form: "",
			wantStatus: 400, wantBody: `{"error":"invalid_request","error_description":"token is missing"}` + "\n",
			wantLogLines: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fuzzProvider(t)
			logs := observed(p)
			if tc.closeStore {
				if err := p.Store.Close(); err != nil {
					t.Fatal(err)
				}
			}
			r := httptest.NewRequest(http.MethodPost, "https://bank.example"+tc.path, strings.NewReader(tc.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("tpp", "secret")
			w := httptest.NewRecorder()
			tc.serve(p)(w, r)

			if w.Code != tc.wantStatus || w.Body.String() != tc.wantBody {
				t.Fatalf("answer %d %q, want %d %q", w.Code, w.Body.String(), tc.wantStatus, tc.wantBody)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			entries := logs.All()
			if len(entries) != tc.wantLogLines {
				t.Fatalf("%d log lines, want %d: %+v", len(entries), tc.wantLogLines, entries)
			}
			if tc.wantLogLines == 0 {
				return
			}
			e := entries[0]
			fields := e.ContextMap()
			if e.Level != tc.wantLevel || e.LoggerName != "ciba.flow" || e.Message != tc.wantMessage || fields[tc.wantField] != tc.wantValue {
				t.Fatalf("line %s %s %q %v", e.Level, e.LoggerName, e.Message, fields)
			}
			if tc.wantOutcome != "" && fields["outcome"] != tc.wantOutcome {
				t.Errorf("outcome %v, want %s", fields["outcome"], tc.wantOutcome)
			}
			cause, hasCause := fields["error"].(string)
			switch {
			case tc.wantCauseIn == "" && hasCause:
				t.Errorf("a refusal logged an error field: %q", cause)
			case tc.wantCauseIn != "" && (!strings.HasPrefix(cause, tc.wantCauseIn) || len(cause) == len(tc.wantCauseIn)):
				t.Errorf("error field %q does not name the cause after %q", cause, tc.wantCauseIn)
			case tc.wantCauseIn != "" && strings.Contains(w.Body.String(), cause[len(tc.wantCauseIn):]):
				t.Errorf("the cause reached the wire: %s", w.Body.String())
			}
		})
	}
}

// TestStoreFailureFoundThroughWrapping: the cause a 500 carries is the store's own error,
// found with errors.Is through the OAuth error that wraps it, and errors.As finds that
// OAuth error through a further wrapping.
func TestStoreFailureFoundThroughWrapping(t *testing.T) {
	p := fuzzProvider(t)
	if err := p.Store.Close(); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://bank.example"+PathToken, strings.NewReader("grant_type=client_credentials&scope=accounts"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("tpp", "secret")
	_, _, err := p.token(httptest.NewRecorder(), r)
	if !errors.Is(err, badger.ErrDBClosed) {
		t.Fatalf("%v does not wrap the store's error", err)
	}
	wrapped := fmt.Errorf("serving /token: %w", err)
	oe, ok := errors.AsType[*oauth.Error](wrapped)
	if !ok || oe.Code != "server_error" || oe.Status != http.StatusInternalServerError {
		t.Fatalf("errors.As found %v", oe)
	}
	if outcomeOf(wrapped) != "server_error" || levelOf(wrapped) != zapcore.ErrorLevel {
		t.Fatalf("outcome %s at %s", outcomeOf(wrapped), levelOf(wrapped))
	}
}

// TestConsentAPIServerErrorLogged: over a store that can be read but not written, creating
// a consent is the Open Banking 500, byte for byte as ever and without the failure's text,
// and its one log line is the consent_create step at error level, naming the cause.
func TestConsentAPIServerErrorLogged(t *testing.T) {
	dir := t.TempDir()
	rw, err := store.OpenBadger(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadOrCreate(rw, jwa.ES256); err != nil {
		t.Fatal(err)
	}
	var tok string
	now := time.Now()
	err = rw.Update(func(t store.Txn) error {
		var err error
		tok, err = token.MintAccess(t, &token.Access{ClientID: "tpp", Grant: token.ClientCredentials, Scope: "accounts",
			IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}, time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := store.OpenBadgerReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	ring, err := keys.LoadOrCreate(ro, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := clients.NewRegistry([]*clients.Client{{ID: "tpp", Method: clients.SecretBasic, Scopes: []string{"accounts"}}}, nil)
	p := New(Config{Issuer: "https://bank.example"}, ro, ring, reg)
	t.Cleanup(p.Close)
	logs := observed(p)

	const id = "5d5b3c4e-1f0e-4c44-a3a8-0f6a4b0d7c11"
	r := httptest.NewRequest(http.MethodPost, "https://bank.example"+PathConsents,
		strings.NewReader(`{"Data":{"Permissions":["ReadAccountsBasic"]},"Risk":{}}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	w.Header().Set("X-Fapi-Interaction-Id", id)
	p.ServeConsents(w, r)

	want := `{"Code":"500 InternalServerError","Id":"` + id + `","Message":"Unexpected error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"the request could not be completed"}]}` + "\n"
	if w.Code != http.StatusInternalServerError || w.Body.String() != want {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d log lines: %+v", len(entries), entries)
	}
	e, fields := entries[0], entries[0].ContextMap()
	const prefix = "500 Unexpected error (UK.OBIE.UnexpectedError): "
	cause, _ := fields["error"].(string)
	if e.Level != zapcore.ErrorLevel || e.LoggerName != "ciba.flow" || fields["step"] != "consent_create" ||
		fields["outcome"] != obie.CodeUnexpectedError || !strings.HasPrefix(cause, prefix) || len(cause) == len(prefix) {
		t.Fatalf("line %s %s %v", e.Level, e.LoggerName, fields)
	}
	t.Logf("logged cause: %s", cause)
	if strings.Contains(w.Body.String(), cause[len(prefix):]) {
		t.Fatal("the cause reached the wire")
	}
}

// TestGateServerErrorCarriesCause: a consent record the gate cannot decode is the Open
// Banking 500, byte for byte as ever, and the refusal carries the decoding failure as its
// cause for the gate's log line.
func TestGateServerErrorCarriesCause(t *testing.T) {
	p := fuzzProvider(t)
	req := gatedRequest(t, p).httpRequest
	var consentKey string
	if err := p.Store.Scan("consent/", func(key string, _ []byte) error { consentKey = key; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.Store.Put(consentKey, []byte("{not json"), 0); err != nil {
		t.Fatal(err)
	}
	_, refusal := p.Admit(req)
	if refusal == nil || refusal.Status != http.StatusInternalServerError || refusal.Unwrap() == nil {
		t.Fatalf("refusal %v", refusal)
	}
	if oe, ok := errors.AsType[*obie.Error](fmt.Errorf("gate: %w", refusal)); !ok || oe != refusal {
		t.Fatal("errors.As does not find the refusal")
	}
	w := httptest.NewRecorder()
	w.Header().Set("X-Fapi-Interaction-Id", "i-1")
	obie.WriteError(w, refusal)
	want := `{"Code":"500 InternalServerError","Id":"i-1","Message":"Unexpected error","Errors":[{"ErrorCode":"UK.OBIE.UnexpectedError","Message":"the grant could not be read"}]}` + "\n"
	if w.Code != http.StatusInternalServerError || w.Body.String() != want {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
	t.Logf("cause: %v", refusal)
}
