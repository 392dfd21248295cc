package users

// PasswordChecks is how many bcrypt comparisons ran in this process.
func PasswordChecks() int64 { return passwordChecks.Load() }
