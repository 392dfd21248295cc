package payment

// View is what the authentication device shows the user about a payment or a funds
// confirmation consent before they approve it (DESIGN: payee name and account, amount
// and currency, reference). Empty fields are absent from the consent.
type View struct {
	// Kind is "domestic-payment" or "funds-confirmation".
	Kind string `json:"kind"`
	// The payee (a payment's CreditorAccount).
	PayeeName    string `json:"payee_name,omitempty"`
	PayeeScheme  string `json:"payee_scheme,omitempty"`
	PayeeAccount string `json:"payee_account,omitempty"`
	// PayeeSecondary is the CreditorAccount's SecondaryIdentification (roll number).
	PayeeSecondary string `json:"payee_secondary,omitempty"`
	Amount         string `json:"amount,omitempty"`
	Currency       string `json:"currency,omitempty"`
	Reference      string `json:"reference,omitempty"`
	Unstructured   string `json:"unstructured,omitempty"`
	// LocalInstrument is the payment scheme (UK.OBIE.FPS, …).
	LocalInstrument string `json:"local_instrument,omitempty"`
	// DebtorAccount is the account the consent fixes to pay from (or, for funds
	// confirmation, the account to check); nil lets the user choose.
	DebtorAccount *Account `json:"debtor_account,omitempty"`
	// CutOff (payment) or Expiration (funds), ISO 8601; empty for none.
	Until string `json:"until,omitempty"`
}

// View is what the device shows for the payment consent.
func (c *Consent) View() (View, error) {
	ini, err := c.ReadInitiation()
	if err != nil {
		return View{}, err
	}
	v := View{
		Kind:            "domestic-payment",
		PayeeName:       ini.CreditorAccount.Name,
		PayeeScheme:     ini.CreditorAccount.SchemeName,
		PayeeAccount:    ini.CreditorAccount.Identification,
		PayeeSecondary:  ini.CreditorAccount.SecondaryIdentification,
		Amount:          ini.InstructedAmount.Amount,
		Currency:        ini.InstructedAmount.Currency,
		LocalInstrument: ini.LocalInstrument,
		DebtorAccount:   ini.DebtorAccount,
		Until:           c.CutOff.UTC().Format(TimeLayout),
	}
	if r := ini.RemittanceInformation; r != nil {
		v.Reference, v.Unstructured = r.Reference, r.Unstructured
	}
	return v, nil
}

// View is what the device shows for the funds-confirmation consent.
func (f *FundsConsent) View() View {
	acc := f.DebtorAccount
	v := View{Kind: "funds-confirmation", DebtorAccount: &acc}
	if f.Expiration != nil {
		v.Until = f.Expiration.Raw
	}
	return v
}
