package concourse

// Helpers only the tests use.

// FlagByEnv finds role's flag read from the environment variable env.
func FlagByEnv(role Role, env string) (Flag, bool) {
	for _, f := range flagTable()[role] {
		if f.Env == env {
			return f, true
		}
	}
	return Flag{}, false
}
