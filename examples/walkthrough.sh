#!/usr/bin/env bash
# The README's walk-through, run: a TPP (Budget Buddy, tpp-1) asks for Alice's accounts, Alice
# approves on her "phone", the TPP reads the account she chose. Each request is printed as the
# curl command it is, then the answer; the variables (TOKEN, CONSENT, AUTH_REQ_ID, DEVICE_URL,
# DECISION_URL, DEVICE_TOKEN, ACCESS_TOKEN) are set as it goes.
#
# Start the example gateway first, keeping its log, from the repository root:
#
#   go run ./cmd/caddy run --config Caddyfile.example 2>&1 | tee gateway.log
#
# then, in another terminal:
#
#   GATEWAY_LOG=gateway.log examples/walkthrough.sh
#
# The `log` channel (show_links) stands in for the phone: the script reads the device link
# and the decision URL from GATEWAY_LOG. Without GATEWAY_LOG it asks you to paste the link.
# Needs bash, curl, grep and sed only.
#
# Environment: BASE (default http://localhost:8080), GATEWAY_LOG, TPP1_SECRET (as given to
# the gateway), PASSWORD (Alice's demo password), ACCOUNT (the account she approves).
set -euo pipefail

BASE=${BASE:-http://localhost:8080}
CLIENT=tpp-1:${TPP1_SECRET:-budget-buddy-demo-secret}
PASSWORD=${PASSWORD:-alice-demo-1234}
ACCOUNT=${ACCOUNT:-22289}
GATEWAY_LOG=${GATEWAY_LOG:-}

command -v curl >/dev/null || { echo "walkthrough: curl is needed" >&2; exit 1; }
ANSWER=$(mktemp)
HEADERS=$(mktemp)
trap 'rm -f "$ANSWER" "$HEADERS"' EXIT

# shown prints a command as it could be typed: words with shell characters single-quoted.
shown() {
	local out='$' a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			out+=" $a"
		else
			out+=" '${a//\'/\'\\\'\'}'"
		fi
	done
	printf '%s\n' "$out"
}

# call runs curl with the arguments, prints the command, the status (with a Bearer
# challenge, when there is one) and the answer, and leaves them in STATUS and BODY.
call() {
	shown curl -s "$@"
	STATUS=$(curl -s -D "$HEADERS" -o "$ANSWER" -w '%{http_code}' "$@") || { echo "walkthrough: the gateway at $BASE does not answer" >&2; exit 1; }
	BODY=$(cat "$ANSWER")
	printf '→ HTTP %s\n' "$STATUS"
	grep -i '^WWW-Authenticate:' "$HEADERS" | tr -d '\r' || true
	printf '%s\n\n' "$BODY"
}

# field NAME prints the string member NAME of the JSON answer (the gateway writes compact JSON).
field() {
	sed -n 's/.*"'"$1"'": *"\([^"]*\)".*/\1/p' <<<"$BODY" | head -n 1
}

# number NAME prints the number member NAME of the JSON answer.
number() {
	sed -n 's/.*"'"$1"'": *\([0-9][0-9]*\).*/\1/p' <<<"$BODY" | head -n 1
}

expect() {
	if [[ $STATUS != "$1" ]]; then
		echo "walkthrough: expected HTTP $1, got $STATUS" >&2
		exit 1
	fi
}

step() { printf '\n== %s\n\n' "$*"; }

# device_link CONSENT finds the device link of the request for CONSENT (the log channel's
# line, standing in for the phone) and sets DEVICE_URL, DECISION_URL and DEVICE_TOKEN.
device_link() {
	local CONSENT=$1 line
	DEVICE_URL=
	if [[ -n $GATEWAY_LOG ]]; then
		echo "(the log channel's line for consent $CONSENT in $GATEWAY_LOG)"
		for _ in $(seq 1 50); do
			line=$(grep -F "\"$CONSENT\"" "$GATEWAY_LOG" 2>/dev/null | grep -F '"device_url"' | tail -n 1 || true)
			if [[ -n $line ]]; then
				DEVICE_URL=$(sed -n 's/.*"device_url": *"\([^"]*\)".*/\1/p' <<<"$line")
				DECISION_URL=$(sed -n 's/.*"decision_url": *"\([^"]*\)".*/\1/p' <<<"$line")
				break
			fi
			sleep 0.2
		done
		[[ -n $DEVICE_URL ]] || { echo "walkthrough: no device link for $CONSENT in $GATEWAY_LOG (is show_links on?)" >&2; exit 1; }
	else
		read -r -p "Paste the device_url the gateway logged: " DEVICE_URL ||
			{ echo "walkthrough: no device link; set GATEWAY_LOG to the gateway's log file" >&2; exit 1; }
		DECISION_URL=${DEVICE_URL%%#*}
	fi
	[[ $DEVICE_URL == *"#t="* ]] || { echo "walkthrough: $DEVICE_URL is not a device link (…/ciba/device/{id}#t={token})" >&2; exit 1; }
	DEVICE_TOKEN=${DEVICE_URL#*#t=}
	echo "DEVICE_URL=$DEVICE_URL"
	echo "DECISION_URL=$DECISION_URL"
	echo "DEVICE_TOKEN=$DEVICE_TOKEN"
}

# backchannel SCOPE CONSENT MESSAGE starts a backchannel request for Alice naming CONSENT and
# sets AUTH_REQ_ID, INTERVAL and EXPIRES_IN.
backchannel() {
	call -u "$CLIENT" "$BASE/bc-authorize" \
		-d scope="$1" -d login_hint=alice@example.com \
		-d binding_message="$3" -d openbanking_intent_id="$2"
	expect 200
	AUTH_REQ_ID=$(field auth_req_id)
	INTERVAL=$(number interval)
	EXPIRES_IN=$(number expires_in)
	echo "AUTH_REQ_ID=$AUTH_REQ_ID"
}

# await_tokens polls for the tokens of AUTH_REQ_ID and sets ACCESS_TOKEN.
await_tokens() {
	local deadline
	ACCESS_TOKEN=
	deadline=$((SECONDS + ${EXPIRES_IN:-300}))
	while [[ -z $ACCESS_TOKEN ]]; do
		call -u "$CLIENT" "$BASE/token" -d grant_type=urn:openid:params:grant-type:ciba -d auth_req_id="$AUTH_REQ_ID"
		case $STATUS:$(field error) in
		200:*) ACCESS_TOKEN=$(field access_token) ;;
		400:authorization_pending) ;;
		400:slow_down) INTERVAL=$((${INTERVAL:-5} + 5)) ;;
		*) echo "walkthrough: the token endpoint refused: $BODY" >&2; exit 1 ;;
		esac
		if [[ -z $ACCESS_TOKEN ]]; then
			((SECONDS < deadline)) || { echo "walkthrough: no decision before the request expired" >&2; exit 1; }
			sleep "${INTERVAL:-5}"
		fi
	done
	echo "ACCESS_TOKEN=$ACCESS_TOKEN"
}


step "1. The TPP gets a client-credentials token"
call -u "$CLIENT" -d grant_type=client_credentials -d scope=accounts "$BASE/token"
expect 200
TOKEN=$(field access_token)
echo "TOKEN=$TOKEN"

step "2. It creates an account-access consent"
call -X POST "$BASE/open-banking/v3.1/aisp/account-access-consents" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"Data":{"Permissions":["ReadAccountsDetail","ReadBalances"]},"Risk":{}}'
expect 201
CONSENT=$(field ConsentId)
echo "CONSENT=$CONSENT"

step "3. Without a CIBA token the account API stays closed"
call "$BASE/open-banking/v3.1/aisp/accounts"
expect 401

step "4. It starts the backchannel request for Alice, naming the consent"
backchannel 'openid accounts' "$CONSENT" 'Budget Buddy 4F2Q'

step "5. Alice approves on her phone"
device_link "$CONSENT"
echo
echo "(Open DEVICE_URL in a browser to see the approval page; here the phone uses the decision API.)"
echo "What the phone shows:"
call "$DECISION_URL" -H "Authorization: Bearer $DEVICE_TOKEN"
expect 200
echo "Alice approves account $ACCOUNT with her password:"
call -X POST "$DECISION_URL" -H "Authorization: Bearer $DEVICE_TOKEN" -H 'Content-Type: application/json' \
	-d '{"decision":"approve","accounts":["'"$ACCOUNT"'"],"password":"'"$PASSWORD"'"}'
expect 204

step "6. The TPP polls for its tokens"
await_tokens

step "7. The account API answers, cut to the account Alice chose"
call "$BASE/open-banking/v3.1/aisp/accounts" -H "Authorization: Bearer $ACCESS_TOKEN"
expect 200
call "$BASE/open-banking/v3.1/aisp/accounts/$ACCOUNT/balances" -H "Authorization: Bearer $ACCESS_TOKEN"
expect 200
echo "An account Alice did not choose:"
call "$BASE/open-banking/v3.1/aisp/accounts/31820/balances" -H "Authorization: Bearer $ACCESS_TOKEN"
expect 403

step "8. A payment: the TPP gets a client-credentials token of scope payments"
call -u "$CLIENT" -d grant_type=client_credentials -d scope=payments "$BASE/token"
expect 200
PAY_TOKEN=$(field access_token)

step "9. It creates a domestic payment consent: 165.88 GBP to ACME Inc"
INITIATION='{"InstructionIdentification":"ACME412","EndToEndIdentification":"FRESCO.21302.GFX.20","InstructedAmount":{"Amount":"165.88","Currency":"GBP"},"CreditorAccount":{"SchemeName":"UK.OBIE.SortCodeAccountNumber","Identification":"08080021325698","Name":"ACME Inc"},"RemittanceInformation":{"Reference":"FRESCO-101"}}'
RISK='{"PaymentContextCode":"EcommerceGoods"}'
call -X POST "$BASE/open-banking/v3.1/pisp/domestic-payment-consents" \
	-H "Authorization: Bearer $PAY_TOKEN" -H 'Content-Type: application/json' -H "x-idempotency-key: walk-$RANDOM$RANDOM" \
	-d '{"Data":{"Initiation":'"$INITIATION"'},"Risk":'"$RISK"'}'
expect 201
PAY_CONSENT=$(field ConsentId)
echo "PAY_CONSENT=$PAY_CONSENT"

step "10. Alice approves the payment from account $ACCOUNT on her phone"
backchannel 'openid payments' "$PAY_CONSENT" 'Budget Buddy P7K2'
device_link "$PAY_CONSENT"
echo "What the phone shows (payee, amount, reference):"
call "$DECISION_URL" -H "Authorization: Bearer $DEVICE_TOKEN"
expect 200
call -X POST "$DECISION_URL" -H "Authorization: Bearer $DEVICE_TOKEN" -H 'Content-Type: application/json' \
	-d '{"decision":"approve","accounts":["'"$ACCOUNT"'"],"password":"'"$PASSWORD"'"}'
expect 204
await_tokens

step "11. The TPP makes the payment through the gate, exactly as consented, once"
PAY_KEY=walk-pay-$RANDOM$RANDOM
PAYMENT='{"Data":{"ConsentId":"'"$PAY_CONSENT"'","Initiation":'"$INITIATION"'},"Risk":'"$RISK"'}'
call -X POST "$BASE/open-banking/v3.1/pisp/domestic-payments" \
	-H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' -H "x-idempotency-key: $PAY_KEY" \
	-d "$PAYMENT"
expect 201
echo "The same request again (same x-idempotency-key) answers the first answer; nothing is paid twice:"
call -X POST "$BASE/open-banking/v3.1/pisp/domestic-payments" \
	-H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' -H "x-idempotency-key: $PAY_KEY" \
	-d "$PAYMENT"
expect 201
echo "The consent is spent:"
call "$BASE/open-banking/v3.1/pisp/domestic-payment-consents/$PAY_CONSENT" -H "Authorization: Bearer $PAY_TOKEN"
expect 200
[[ $(field Status) == Consumed ]] || { echo "walkthrough: the payment consent is $(field Status), not Consumed" >&2; exit 1; }

step "Done: the TPP reads account $ACCOUNT under consent $CONSENT and paid once under $PAY_CONSENT"
