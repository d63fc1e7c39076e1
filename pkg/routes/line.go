package routes

import (
	"errors"
	"strings"
)

// Section is one space-separated part of a routes line: a value and its
// comma-separated props, in line order.
type Section struct {
	Value string
	Props []Prop
}

// Prop is one "name" or "name=value" of a section.
type Prop struct {
	Name  string
	Value string
}

// Has reports whether the section has a prop called name.
func (s *Section) Has(name string) bool {
	for _, p := range s.Props {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Get returns the value of the last prop called name. Pushpin keeps props
// in a multi-hash whose value() is the most recent insertion, so for a prop
// given twice the later one wins.
func (s *Section) Get(name string) (string, bool) {
	for i := len(s.Props) - 1; i >= 0; i-- {
		if s.Props[i].Name == name {
			return s.Props[i].Value, true
		}
	}
	return "", false
}

// All returns the values of every prop called name, in line order.
func (s *Section) All(name string) []string {
	var out []string
	for _, p := range s.Props {
		if p.Name == name {
			out = append(out, p.Value)
		}
	}
	return out
}

// Syntax errors of SplitLine; the messages are Pushpin's where it has one.
var (
	ErrExpectingProp   = errors.New("expecting prop")
	ErrEmptyPropName   = errors.New("empty prop name")
	ErrUnterminated    = errors.New("unterminated quoted string")
	ErrBadQuotedEscape = errors.New(`invalid escape in quoted string (only \\ and \" are allowed)`)
)

// SplitLine splits one routes line into sections with Pushpin's grammar
// (src/proxy/routesfile.cpp):
//
//   - sections are separated by spaces (only ' '; a tab is part of a token);
//   - a section is value[,prop[=val]]…; the value and each prop end at an
//     unquoted ' ', ',' or '#', and '#' outside quotes ends the line;
//   - double-quoted parts may appear anywhere in a value or prop and may
//     contain spaces, commas and '#'; inside them only \\ and \" are
//     escapes (any other backslash is an error, as is a missing closing
//     quote); outside quotes a backslash is an ordinary character;
//   - when a section's first token contains '=' (after unquoting), the
//     section has an empty value and that token is its first prop. Pushpin
//     re-reads such a token from where the separator spaces began, so it
//     fails with "expecting prop" when spaces precede it (any target, or a
//     condition after leading spaces); that is mirrored here;
//   - a prop must not be empty ("expecting prop", e.g. a trailing comma)
//     and its name must not be empty ("empty prop name").
//
// A blank or comment-only line gives no sections and no error.
func SplitLine(line string) ([]Section, error) {
	var out []Section
	i := 0
	for {
		sepStart := i
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i >= len(line) || line[i] == '#' {
			return out, nil
		}
		part, end, err := readToken(line, i)
		if err != nil {
			return nil, err
		}
		var sec Section
		if strings.IndexByte(part, '=') >= 0 {
			if sepStart != i {
				return nil, ErrExpectingProp
			}
			// Empty value; the token is read again as a prop.
		} else {
			sec.Value = part
			i = end
			if i >= len(line) || line[i] != ',' {
				out = append(out, sec)
				continue
			}
			i++
		}
		// Props: one per comma.
		for {
			part, end, err := readToken(line, i)
			if err != nil {
				return nil, err
			}
			// Pushpin tests the decoded text, so a quoted "" is empty too.
			if part == "" {
				return nil, ErrExpectingProp
			}
			name, val, _ := strings.Cut(part, "=")
			if name == "" {
				return nil, ErrEmptyPropName
			}
			sec.Props = append(sec.Props, Prop{Name: name, Value: val})
			i = end
			if i < len(line) && line[i] == ',' {
				i++
				continue
			}
			break
		}
		out = append(out, sec)
	}
}

// readToken reads from i up to the next unquoted ' ', ',' or '#' (or the end),
// decoding double-quoted parts. It returns the decoded text and the index of
// the terminator.
func readToken(line string, i int) (string, int, error) {
	var sb strings.Builder
	for i < len(line) {
		c := line[i]
		switch c {
		case ' ', ',', '#':
			return sb.String(), i, nil
		case '"':
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '\\' {
					i++
					if i >= len(line) {
						return "", 0, ErrUnterminated
					}
					if line[i] != '\\' && line[i] != '"' {
						return "", 0, ErrBadQuotedEscape
					}
					sb.WriteByte(line[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				sb.WriteByte(c)
				i++
			}
			if !closed {
				return "", 0, ErrUnterminated
			}
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return sb.String(), i, nil
}
