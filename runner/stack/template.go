package stack

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

//go:embed zurl.conf.template
var builtinZurlTemplate []byte

// zurlTemplate reads <libdir>/runner/zurl.conf.template like Pushpin's
// runner when a lib dir is configured and has one; otherwise ours.
func zurlTemplate(libDir string) ([]byte, error) {
	if libDir == "" {
		return builtinZurlTemplate, nil
	}
	path := filepath.Join(libDir, "runner", "zurl.conf.template")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return builtinZurlTemplate, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zurl template: %w", err)
	}
	return b, nil
}

var templateVar = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// renderTemplate substitutes {{ name }} variables, as Pushpin's runner does
// for its config templates; unknown names render empty.
func renderTemplate(tmpl []byte, vars map[string]string) []byte {
	return templateVar.ReplaceAllFunc(tmpl, func(m []byte) []byte {
		return []byte(vars[string(templateVar.FindSubmatch(m)[1])])
	})
}
