package engine

import (
	"net/http"
	"strings"
)

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// statusText is the standard reason phrase for code.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Unknown"
}
