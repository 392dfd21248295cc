package payment

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyciba/gateway/internal/obie"
)

const sampleFundsConsent = `{"Data":{"ExpirationDateTime":"2027-05-02T00:00:00+00:00",
  "DebtorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"40400422390112","Name":"Mrs B Smith"}}}`

func TestParseFundsConsent(t *testing.T) {
	req, err := ParseFundsConsent([]byte(sampleFundsConsent), now)
	if err != nil || req.Expiration.Raw != "2027-05-02T00:00:00+00:00" || req.DebtorAccount.Identification != "40400422390112" {
		t.Fatalf("%+v %v", req, err)
	}
	if _, err := ParseFundsConsent([]byte(`{"Data":{"DebtorAccount":{"SchemeName":"UK.OBIE.IBAN","Identification":"GB29NWBK60161331926819"}}}`), now); err != nil {
		t.Fatalf("no expiry, no name: %v", err)
	}
	for _, tc := range []struct {
		path  string
		value any
		code  string
	}{
		{"Data", del{}, obie.CodeFieldMissing},
		{"Risk", map[string]any{}, obie.CodeFieldUnexpected},
		{"Data.Permissions", "x", obie.CodeFieldUnexpected},
		{"Data.ExpirationDateTime", "2026-12-01T00:00:00Z", obie.CodeFieldInvalidDate},
		{"Data.ExpirationDateTime", "tomorrow", obie.CodeFieldInvalid},
		{"Data.DebtorAccount", del{}, obie.CodeFieldMissing},
		{"Data.DebtorAccount.SchemeName", "UK.OBIE.Other", obie.CodeUnsupportedScheme},
		{"Data.DebtorAccount.Identification", "123", obie.CodeFieldInvalid},
		{"Data.DebtorAccount.Identification", del{}, obie.CodeFieldMissing},
		{"Data.DebtorAccount.Name", strings.Repeat("n", 351), obie.CodeFieldInvalid},
		{"Data.DebtorAccount.SecondaryIdentification", strings.Repeat("n", 35), obie.CodeFieldInvalid},
		{"Data.DebtorAccount.Extra", "x", obie.CodeFieldUnexpected},
	} {
		_, err := ParseFundsConsent(mutate(t, sampleFundsConsent, tc.path, tc.value), now)
		items := problems(err)
		if len(items) != 1 || items[0].ErrorCode != tc.code || items[0].Path != tc.path {
			t.Errorf("%s=%v: %+v", tc.path, tc.value, items)
		}
	}
	if _, err := ParseFundsConsent([]byte(`{"Data":{},"Data":{}}`), now); problems(err)[0].ErrorCode != obie.CodeInvalidFormat {
		t.Fatalf("repeated Data: %v", err)
	}
}

const sampleFundsConfirmation = `{"Data":{"ConsentId":"fcc-1","Reference":"Purchase01","InstructedAmount":{"Amount":"20.00","Currency":"USD"}}}`

func TestParseFundsConfirmation(t *testing.T) {
	req, err := ParseFundsConfirmation([]byte(sampleFundsConfirmation))
	if err != nil || req.ConsentID != "fcc-1" || req.Reference != "Purchase01" || req.InstructedAmount != (Amount{"20.00", "USD"}) {
		t.Fatalf("%+v %v", req, err)
	}
	for _, tc := range []struct {
		path  string
		value any
		code  string
	}{
		{"Data.ConsentId", del{}, obie.CodeFieldMissing},
		{"Data.ConsentId", strings.Repeat("c", 129), obie.CodeFieldInvalid},
		{"Data.Reference", del{}, obie.CodeFieldMissing},
		{"Data.Reference", strings.Repeat("r", 36), obie.CodeFieldInvalid},
		{"Data.InstructedAmount", del{}, obie.CodeFieldMissing},
		{"Data.InstructedAmount.Amount", "20.123456", obie.CodeFieldInvalid},
		{"Data.InstructedAmount.Currency", "usd", obie.CodeFieldInvalid},
		{"Data.Extra", 1, obie.CodeFieldUnexpected},
		{"Risk", map[string]any{}, obie.CodeFieldUnexpected},
	} {
		_, err := ParseFundsConfirmation(mutate(t, sampleFundsConfirmation, tc.path, tc.value))
		items := problems(err)
		if len(items) != 1 || items[0].ErrorCode != tc.code || items[0].Path != tc.path {
			t.Errorf("%s=%v: %+v", tc.path, tc.value, items)
		}
	}
}

func TestFundsLifecycle(t *testing.T) {
	r := newRepo(t)
	req, err := ParseFundsConsent([]byte(sampleFundsConsent), now)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFunds("tpp-1", req, now)
	if err := r.SaveFunds(f, now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.ID, FundsIDPrefix) || f.StatusAt(now) != AwaitingAuthorisation || f.Usable(now) {
		t.Fatalf("new %+v", f)
	}
	if f.StatusAt(now.Add(FundsAuthorisationWindow)) != Rejected {
		t.Fatal("not rejected after the window")
	}
	if _, err := r.FundsFor("tpp-2", f.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other client: %v", err)
	}
	if _, err := r.AuthoriseFunds(f.ID, "sub-alice", "", now); !errors.Is(err, ErrNoDebtor) {
		t.Fatalf("no account: %v", err)
	}
	got, err := r.AuthoriseFunds(f.ID, "sub-alice", "a1", now)
	if err != nil || !got.Usable(now) || got.Usable(req.Expiration.Time) {
		t.Fatalf("authorised %+v %v", got, err)
	}
	if _, err := r.RejectFunds(f.ID, now); !errors.Is(err, ErrNotAwaiting) {
		t.Fatalf("reject after authorise: %v", err)
	}
	if v := got.View(); v.Kind != "funds-confirmation" || v.DebtorAccount.Identification != "40400422390112" || v.Until != req.Expiration.Raw {
		t.Fatalf("view %+v", v)
	}
	if err := r.DeleteFunds("tpp-2", f.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other client deletes: %v", err)
	}
	if err := r.DeleteFunds("tpp-1", f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Funds(f.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	g := NewFunds("tpp-1", req, now)
	if err := g.Revoke(now); !errors.Is(err, ErrNotAuthorised) {
		t.Fatalf("revoke awaiting: %v", err)
	}
	_ = g.Authorise("s", "a1", now)
	if err := g.Revoke(now.Add(time.Minute)); err != nil || g.StatusAt(now) != Revoked {
		t.Fatalf("revoke: %v %s", err, g.Status)
	}
}

func TestDomesticView(t *testing.T) {
	v, err := sampleDomestic(t).View()
	if err != nil {
		t.Fatal(err)
	}
	want := View{Kind: "domestic-payment", PayeeName: "ACME Inc", PayeeScheme: SchemeSortCodeAccountNumber,
		PayeeAccount: "08080021325698", PayeeSecondary: "0002", Amount: "165.88", Currency: "GBP",
		Reference: "FRESCO-101", Unstructured: "Internal ops code 5120101", LocalInstrument: "UK.OBIE.FPS",
		Until: "2026-12-02T12:00:00+00:00"}
	if v.DebtorAccount == nil || v.DebtorAccount.Name != "Andrea Smith" {
		t.Fatalf("debtor %+v", v.DebtorAccount)
	}
	v.DebtorAccount = nil
	if v != want {
		t.Fatalf("view\n%+v\nwant\n%+v", v, want)
	}
}

func TestCheckFundsConfirmation(t *testing.T) {
	req, _ := ParseFundsConsent([]byte(sampleFundsConsent), now)
	f := NewFunds("tpp-1", req, now)
	f.ID = "fcc-1"
	if !IsFundsID(NewFundsID()) || IsFundsID(NewDomesticID()) || !IsDomesticID(NewDomesticID()) {
		t.Fatal("id prefixes")
	}
	codeOf := func(err error) string {
		if it := problems(err); len(it) > 0 {
			return it[0].ErrorCode + "@" + it[0].Path
		}
		return ""
	}
	if _, err := CheckFundsConfirmation(f, []byte(sampleFundsConfirmation), now); codeOf(err) != obie.CodeInvalidConsent+"@Data.Status" {
		t.Fatalf("awaiting consent: %v", err)
	}
	_ = f.Authorise("s", "a1", now)
	if got, err := CheckFundsConfirmation(f, []byte(sampleFundsConfirmation), now); err != nil || got.Reference != "Purchase01" {
		t.Fatalf("authorised: %+v %v", got, err)
	}
	other := strings.Replace(sampleFundsConfirmation, "fcc-1", "fcc-2", 1)
	if _, err := CheckFundsConfirmation(f, []byte(other), now); codeOf(err) != obie.CodeConsentMismatch+"@Data.ConsentId" {
		t.Fatalf("other consent: %v", err)
	}
	if _, err := CheckFundsConfirmation(f, []byte(sampleFundsConfirmation), f.Expiration.Time); codeOf(err) != obie.CodeInvalidConsent+"@Data.Status" {
		t.Fatalf("expired: %v", err)
	}
	if _, err := CheckFundsConfirmation(f, []byte(`{}`), now); codeOf(err) != obie.CodeFieldMissing+"@Data" {
		t.Fatalf("empty: %v", err)
	}
}
