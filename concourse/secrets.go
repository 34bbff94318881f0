package concourse

import (
	"maps"
	"net/url"
	"strings"
)

// Masked replaces a secret value in MaskSecrets' output.
const Masked = "***"

// secretMarkers are parts of variable names whose values are secrets in
// Concourse's flag list: passwords, client secrets, tokens, API keys,
// encryption keys, and the local-user and client lists (user:password).
var secretMarkers = []string{
	"PASSWORD", "SECRET", "TOKEN", "_PW", "API_KEY", "ENCRYPTION_KEY",
	"ADD_LOCAL_USER", "ADD_CLIENT", "AUTHN_API_KEY", "HEADER",
}

// isSecret reports whether the value of variable key is a secret. Key
// *files* (CONCOURSE_TSA_HOST_KEY, ...) hold paths and are not.
func isSecret(key string) bool {
	upper := strings.ToUpper(key)
	for _, m := range secretMarkers {
		if strings.Contains(upper, m) {
			return true
		}
	}
	return false
}

// MaskSecrets returns a copy of env fit for logs and golden files: secret
// values replaced by Masked, and a password in a proxy URL
// (http://user:pass@host) replaced too.
func MaskSecrets(env map[string]string) map[string]string {
	out := maps.Clone(env)
	for k, v := range out {
		switch {
		case isSecret(k):
			out[k] = Masked
		case strings.Contains(strings.ToLower(k), "proxy"):
			out[k] = maskURLPassword(v)
		}
	}
	return out
}

func maskURLPassword(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Masked)
		// url escapes "*" in a password; show the mask as it is.
		return strings.Replace(u.String(), ":"+url.PathEscape(Masked)+"@", ":"+Masked+"@", 1)
	}
	return v
}
