package consent

import (
	"bytes"
	"strings"
	"testing"
)

// TestFilterHostileJSON: JSON written to slip past a filter that compares raw bytes
// (escaped names and values, a BOM, other kinds for AccountId, a second AccountId nested
// in a kept item, PAN schemes written oddly, Detail fields under escaped names). Every
// forbidden thing carries LEAK or the PAN; an answer is refused or shows none of them.
func TestFilterHostileJSON(t *testing.T) {
	t.Parallel()
	const pan = "5409050000001234"
	basic := &Consent{Status: Authorised, Permissions: []Permission{ReadAccountsBasic}, AccountIDs: []string{"22289"}}
	detail := &Consent{Status: Authorised, Permissions: []Permission{ReadAccountsDetail}, AccountIDs: []string{"22289"}}
	accounts := Endpoint{Resource: Accounts, List: true}
	for _, tc := range []struct {
		name string
		c    *Consent
		body string
	}{
		{"escaped AccountId name", basic, `{"Data":{"Account":[{"\u0041ccountId":"31820","Nickname":"LEAK"}]}}`},
		{"escaped AccountId value", basic, `{"Data":{"Account":[{"AccountId":"\u0033\u0031820","Nickname":"LEAK"}]}}`},
		{"escaped AccountId twice", basic, `{"Data":{"Account":[{"AccountId":"22289","\u0041ccountId":"31820","Nickname":"LEAK"}]}}`},
		{"escaped Data", basic, `{"D\u0061ta":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`},
		{"escaped Data twice", basic, `{"Data":{"Account":[]},"D\u0061ta":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`},
		{"escaped list name twice", basic, `{"Data":{"Account":[],"\u0041ccount":[{"AccountId":"31820","Nickname":"LEAK"}]}}`},
		{"BOM", basic, "\ufeff" + `{"Data":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`},
		{"number AccountId", basic, `{"Data":{"Account":[{"AccountId":31820,"Nickname":"LEAK"}]}}`},
		{"null AccountId", basic, `{"Data":{"Account":[{"AccountId":null,"Nickname":"LEAK"}]}}`},
		{"AccountId with a NUL", basic, `{"Data":{"Account":[{"AccountId":"22289\u0000","Nickname":"LEAK"}]}}`},
		{"invalid UTF-8 in a name", basic, "{\"Data\":{\"Account\":[{\"AccountId\":\"22289\",\"Nick\xffname\":\"LEAK\"}]}}"},
		{"Detail field escaped, Basic", basic, `{"Data":{"Account":[{"AccountId":"22289","\u0053ervicer":{"Identification":"LEAK"}}]}}`},
		{"Detail field Account escaped, Basic", basic, `{"Data":{"Account":[{"AccountId":"22289","Acc\u006funt":[{"Identification":"LEAK"}]}]}}`},
		{"PAN scheme with spaces", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":" UK.OBIE.PAN ","Identification":"` + pan + `"}]}]}}`},
		{"PAN scheme lowercase", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"uk.obie.pan","Identification":"` + pan + `"}]}]}}`},
		{"PAN scheme escaped", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"UK.OBIE.P\u0041N","Identification":"` + pan + `"}]}]}}`},
		{"PAN SchemeName name escaped", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"\u0053chemeName":"UK.OBIE.PAN","Identification":"` + pan + `"}]}]}}`},
		{"PAN Identification name escaped", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"UK.OBIE.PAN","\u0049dentification":"` + pan + `"}]}]}}`},
		{"PAN Identification first", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"Identification":"` + pan + `","SchemeName":"UK.OBIE.PAN"}]}]}}`},
		{"PAN scheme with a tab", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"UK.OBIE.PAN\t","Identification":"` + pan + `"}]}]}}`},
		{"PAN scheme with a NBSP", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"UK.OBIE.PAN\u00a0","Identification":"` + pan + `"}]}]}}`},
		{"PAN escaped digits", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"UK.OBIE.PAN","Identification":"\u0035409050000001234"}]}]}}`},
		{"PAN as number", detail, `{"Data":{"Account":[{"AccountId":"22289","Account":[{"SchemeName":"UK.OBIE.PAN","Identification":5409050000001234}]}]}}`},
		{"Links with an object", basic, `{"Data":{"Account":[]},"Links":{"Self":{"AccountId":"31820","Nickname":"LEAK"}}}`},
		{"Meta with an unknown member", basic, `{"Data":{"Account":[]},"Meta":{"LEAK":"31820"}}`},
		{"Meta with an escaped member", basic, `{"Data":{"Account":[]},"Meta":{"TotalP\u0061ges":"LEAK"}}`},
		{"nested AccountId of another account", basic, `{"Data":{"Account":[{"AccountId":"22289","Nickname":"ok","Other":{"AccountId":"31820","Nickname":"LEAK"}}]}}`},
		{"nested list of another account", basic, `{"Data":{"Account":[{"AccountId":"22289","Other":[{"AccountId":"31820","Nickname":"LEAK"}]}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, errMem := tc.c.AppendFilter(nil, []byte(tc.body), accounts, Limits{})
			var stream bytes.Buffer
			errStream := tc.c.FilterStream(&stream, strings.NewReader(tc.body), accounts, Limits{})
			for _, r := range []struct {
				how string
				out []byte
				err error
			}{{"in memory", mem, errMem}, {"streamed", stream.Bytes(), errStream}} {
				if r.err != nil {
					continue
				}
				for _, leak := range []string{"LEAK", "31820", pan, "5409050000001234"} {
					if bytes.Contains(r.out, []byte(leak)) {
						t.Errorf("%s: %q shown: %s", r.how, leak, r.out)
					}
				}
				if bytes.Contains(r.out, []byte(`\u0035409`)) || bytes.Contains(r.out, []byte("540905000000")) {
					t.Errorf("%s: PAN shown escaped: %s", r.how, r.out)
				}
			}
		})
	}
}
