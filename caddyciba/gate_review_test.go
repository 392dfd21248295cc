package caddyciba

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestGateH2BankTrailer: a bank that speaks HTTP/2 can send trailers after a body of
// known length, which the gate filters in one piece; reverse_proxy copies those trailers
// into the answer's headers after the body, before the gate writes the filtered 200.
// None of them may reach the TPP.
func TestGateH2BankTrailer(t *testing.T) {
	bank := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := `{"Data":{"Account":[{"AccountId":"22289"}]}}`
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", itoa(len(body)))
		h.Set("Trailer", "X-Account-Trailer")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(body))
		h.Set("X-Account-Trailer", "LEAK 31820")
	}))
	bank.Config.Protocols = new(http.Protocols)
	bank.Config.Protocols.SetUnencryptedHTTP2(true)
	bank.Start()
	{
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		resp, err := (&http.Client{Transport: tr}).Get(bank.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// The test holds only if the bank really sends a trailer after a known length.
		if resp.ProtoMajor != 2 || resp.ContentLength <= 0 || resp.Trailer.Get("X-Account-Trailer") == "" {
			t.Fatalf("the bank does not send an HTTP/2 trailer after a known length: %s %d %v", resp.Proto, resp.ContentLength, resp.Trailer)
		}
	}
	t.Cleanup(bank.Close)
	proxy := "reverse_proxy " + strings.TrimPrefix(bank.URL, "http://") + " {\n\t\t\ttransport http {\n\t\t\t\tversions h2c\n\t\t\t}\n\t\t}"
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, proxy, -1))
	_, basic := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	got := hostileCall(t, "/accounts", basic)
	if got.status != 200 || got.broken != nil || !strings.Contains(string(got.body), "22289") {
		t.Fatalf("got %d %v %s", got.status, got.broken, got.body)
	}
	for _, hh := range []http.Header{got.header, got.trailer} {
		for k, v := range hh {
			if s := strings.Join(v, ","); strings.Contains(s, "LEAK") || strings.Contains(k, "Account-Trailer") || strings.Contains(k, "Unannounced") {
				t.Fatalf("the bank's trailer reached the TPP: %s: %s", k, s)
			}
		}
	}
}

// TestGateBank101: a bank that switches protocols to a request that asked for no upgrade
// gets no tunnel to the TPP, and the TPP gets the gate's 502, not an empty 200.
func TestGateBank101(t *testing.T) {
	bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.WriteString(`{"Data":{"Account":[{"AccountId":"31820","Nickname":"LEAK"}]}}`)
		brw.Flush()
	}))
	t.Cleanup(bank.Close)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.URL, "http://"), -1))
	_, basic := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	got := hostileCall(t, "/accounts", basic)
	if strings.Contains(string(got.body), "LEAK") {
		t.Fatalf("the bank's tunnel reached the TPP: %s", got.body)
	}
	checkRefusal(t, got, http.StatusBadGateway)
}

// TestGateBankTwoHeaderValues: a 200 whose Content-Type or Content-Encoding is given
// twice is refused: the gate would judge the first, and the TPP's client might read the
// other.
func TestGateBankTwoHeaderValues(t *testing.T) {
	var header atomic.Pointer[[3]string]
	bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hv := header.Load()
		w.Header()[hv[0]] = []string{hv[1], hv[2]}
		if hv[0] != "Content-Type" {
			w.Header().Set("Content-Type", "application/json")
		}
		io.WriteString(w, `{"Data":{"Account":[{"AccountId":"22289","Nickname":"<script>"}]}}`)
	}))
	t.Cleanup(bank.Close)
	startGateway(t, strings.Replace(gatewayConfig(t.TempDir(), ""), accountAPI, "reverse_proxy "+strings.TrimPrefix(bank.URL, "http://"), -1))
	_, basic := authorisedConsent(t, `"ReadAccountsBasic"`, "22289")
	for _, hv := range [][3]string{{"Content-Type", "application/json", "text/html"}, {"Content-Encoding", "identity", "gzip"}} {
		t.Run(hv[0], func(t *testing.T) {
			header.Store(&hv)
			got := hostileCall(t, "/accounts", basic)
			checkRefusal(t, got, http.StatusBadGateway)
		})
	}
}
