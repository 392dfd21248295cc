package obsig_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddyciba/gateway/internal/obsig"
)

// An endpoint of the payment APIs: the request's signature checked against the client's
// key set over the exact body bytes, the answer signed with the gateway's PS256 key.
func Example() {
	raw, _ := rsa.GenerateKey(rand.Reader, 2048)
	clientKey, _ := jwk.FromRaw(raw)
	_ = clientKey.Set(jwk.KeyIDKey, "tpp-1")
	clientPublic, _ := clientKey.PublicKey()
	clientJWKS := jwk.NewSet()
	_ = clientJWKS.AddKey(clientPublic)

	raw, _ = rsa.GenerateKey(rand.Reader, 2048)
	gatewayKey, _ := jwk.FromRaw(raw)
	_ = gatewayKey.Set(jwk.KeyIDKey, "gw-1")

	form, _ := obsig.FormOf("v3.1.10")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := obsig.VerifyRequest(r.Header, body, clientJWKS, obsig.Required,
			obsig.Options{Issuer: "org-1/ssa-1", Form: form})
		if err != nil {
			if !obsig.Answer(w, err) {
				http.Error(w, "", http.StatusInternalServerError)
			}
			return
		}
		answer := []byte(`{"Data":{"ConsentId":"c-1","Status":"AwaitingAuthorisation"}}`)
		if err := obsig.SignResponse(w.Header(), answer, gatewayKey, obsig.Claims{Issuer: "gateway-org", Form: form}); err != nil {
			http.Error(w, "", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
	})

	body := []byte(`{"Data":{"Initiation":{}},"Risk":{}}`)
	sig, _ := obsig.Sign(body, clientKey, obsig.Claims{Issuer: "org-1/ssa-1", Form: form, IssuedAt: time.Now()})
	for _, signature := range []string{sig, ""} {
		r := httptest.NewRequest("POST", "/open-banking/v3.1/pisp/domestic-payment-consents", bytes.NewReader(body))
		if signature != "" {
			r.Header.Set(obsig.HeaderName, signature)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get(obsig.HeaderName) != "")
	}
	// Output:
	// 201 true
	// 400 false
}
