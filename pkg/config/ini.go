package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// entry is one key=value line of an INI file, with the value already
// unescaped the way QSettings (IniFormat) does it.
type entry struct {
	section string
	key     string
	line    int
	// str is the value when it is a plain string (isList false).
	str string
	// items holds the elements when the value contained unquoted commas:
	// QSettings then stores a QStringList instead of a QString.
	items  []string
	isList bool
	// invalid marks the QSettings "@Invalid()" value, which reads as unset.
	invalid bool
}

// iniFile is the parsed content of one INI file. Lookups are by
// "section/key", exactly the key strings Pushpin passes to QSettings.
type iniFile struct {
	name    string // path (or label) used in messages
	entries map[string]*entry
	order   []*entry // file order, later duplicates replace earlier ones in entries only
}

// parseINI reads data with QSettings' IniFormat rules, as Pushpin's
// Settings class sees them (Qt 5):
//
//   - A logical line ends at an unquoted, unescaped CR or LF; a backslash
//     before the line break continues the line, and a double-quoted part
//     may span lines.
//   - A line whose first non-blank character is ';' is a comment, and an
//     unquoted ';' ends the line (the rest is a comment). Lines starting
//     with '#' are comments as well: QSettings only ignores them because
//     they have no '=', and a "#key=value" line would define a key nobody
//     reads, so treating every '#' line as a comment is equivalent (one
//     difference: QSettings lets an unbalanced quote in a '#' line swallow
//     the following lines; here the comment ends with its line). '#'
//     after a value is part of the value, as in QSettings.
//   - "[name]" starts a section; the section "General" (any case) is the
//     root section "", as in QSettings. Repeated sections merge.
//   - Keys are trimmed; a repeated key keeps the last value (QSettings
//     behaviour), and a warning is recorded.
//   - Values: see parseINIValue.
//
// Lines that are neither comments, sections nor key=value are reported as
// warnings and skipped: QSettings flags them as a format error but Pushpin
// never checks that status, so they do not stop Pushpin from starting.
func parseINI(name string, data []byte) (*iniFile, []Warning) {
	f := &iniFile{name: name, entries: make(map[string]*entry)}
	var warns []Warning
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))

	section := ""
	pos := 0
	lineNo := 1
	for pos < len(data) {
		ll := readLogicalLine(data, pos, lineNo)
		pos = ll.next
		lineNo = ll.nextLine
		text := ll.text
		if len(text) == 0 || text[0] == ';' || text[0] == '#' {
			continue
		}
		if text[0] == '[' {
			end := bytes.IndexByte(text, ']')
			var name []byte
			if end < 0 {
				warns = append(warns, Warning{File: f.name, Line: ll.line, Msg: "section header has no closing ']'"})
				name = text[1:]
			} else {
				name = text[1:end]
			}
			s := strings.TrimSpace(string(name))
			if strings.EqualFold(s, "general") {
				s = ""
			}
			section = s
			continue
		}
		if ll.equals < 0 {
			warns = append(warns, Warning{File: f.name, Line: ll.line, Msg: fmt.Sprintf("ignoring line without '=': %q", truncate(string(text), 60))})
			continue
		}
		key := strings.TrimRight(string(text[:ll.equals]), " \t")
		if key == "" {
			warns = append(warns, Warning{File: f.name, Line: ll.line, Msg: "ignoring line with empty key"})
			continue
		}
		e := &entry{section: section, key: key, line: ll.line}
		e.str, e.items, e.isList = parseINIValue(text[ll.equals+1:])
		if !e.isList {
			e.str, e.invalid = variantString(e.str)
		} else {
			for i, it := range e.items {
				e.items[i], _ = variantString(it)
			}
		}
		full := joinKey(section, key)
		if prev, ok := f.entries[full]; ok {
			warns = append(warns, Warning{File: f.name, Line: ll.line, Msg: fmt.Sprintf("key %q repeats line %d; the later value wins", key, prev.line)})
		}
		f.entries[full] = e
		f.order = append(f.order, e)
	}
	return f, warns
}

func joinKey(section, key string) string {
	if section == "" {
		return key
	}
	return section + "/" + key
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type logicalLine struct {
	text     []byte // from the first non-blank byte to the end of the logical line
	equals   int    // index in text of the first unquoted '=', or -1
	line     int    // physical line number where text starts
	next     int    // offset where the next logical line starts
	nextLine int    // physical line number at next
}

// readLogicalLine mirrors QSettings' readIniLine: it finds the extent of one
// logical line starting at pos and the first unquoted '=' in it.
func readLogicalLine(data []byte, pos, lineNo int) logicalLine {
	// Skip blank space, including empty physical lines.
	for pos < len(data) {
		c := data[pos]
		if c == '\n' {
			lineNo++
		} else if c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v' {
			break
		}
		pos++
	}
	start := pos
	startLine := lineNo
	inQuotes := false
	equals := -1
	i := pos
loop:
	for i < len(data) {
		c := data[i]
		switch c {
		case '=':
			if !inQuotes && equals < 0 {
				equals = i - start
			}
		case '\n', '\r':
			if !inQuotes {
				break loop
			}
			if c == '\n' {
				lineNo++
			}
		case '\\':
			// An escaped character, including an escaped line break
			// (\n, \r, \r\n and \n\r all count as one break).
			if i+1 < len(data) {
				i++
				c2 := data[i]
				if c2 == '\n' {
					lineNo++
				}
				if (c2 == '\n' || c2 == '\r') && i+1 < len(data) {
					c3 := data[i+1]
					if (c3 == '\n' || c3 == '\r') && c3 != c2 {
						if c3 == '\n' {
							lineNo++
						}
						i++
					}
				}
			}
		case '"':
			inQuotes = !inQuotes
		case ';', '#':
			if i == start {
				// Comment line: skip to the end of the physical line.
				for i < len(data) && data[i] != '\n' && data[i] != '\r' {
					i++
				}
				break loop
			}
			if c == ';' && !inQuotes {
				// The rest of the physical line is a comment.
				end := i
				for i < len(data) && data[i] != '\n' && data[i] != '\r' {
					i++
				}
				return logicalLine{text: data[start:end], equals: equals, line: startLine, next: i, nextLine: lineNo}
			}
		}
		i++
	}
	text := data[start:i]
	if len(text) > 0 && (text[0] == ';' || text[0] == '#') {
		text = text[:0]
		equals = -1
	}
	return logicalLine{text: text, equals: equals, line: startLine, next: i, nextLine: lineNo}
}

// parseINIValue unescapes a raw INI value the way QSettings'
// iniUnescapedStringList does:
//
//   - leading blanks are skipped and trailing blanks dropped, except blanks
//     that came from an escape or from inside quotes;
//   - double quotes group text (they are removed; "a,b" is one string and a
//     quoted value keeps its blanks);
//   - C escapes \a \b \f \n \r \t \v \" \? \' \\, \xHH… (hex code point),
//     \ooo (octal code point), backslash-newline (continuation); a backslash
//     before any other character drops both;
//   - an unquoted ',' makes the value a list; each element is trimmed the
//     same way.
func parseINIValue(raw []byte) (str string, items []string, isList bool) {
	var sb strings.Builder
	quoted := false   // inside a "…" part
	anyQuote := false // the current element had a quoted part: no trimming
	chopLimit := 0    // bytes before this index are protected from trimming
	i := 0
	skipBlanks := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t') {
			i++
		}
		chopLimit = sb.Len()
	}
	chop := func() string {
		s := sb.String()
		if !anyQuote {
			n := len(s)
			for n > chopLimit && (s[n-1] == ' ' || s[n-1] == '\t') {
				n--
			}
			s = s[:n]
		}
		return s
	}
	skipBlanks()
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '\\':
			i++
			if i >= len(raw) {
				break
			}
			e := raw[i]
			i++
			switch e {
			case 'a':
				sb.WriteByte('\a')
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'v':
				sb.WriteByte('\v')
			case '"', '?', '\'', '\\':
				sb.WriteByte(e)
			case 'x':
				v, n := 0, 0
				for i < len(raw) && isHex(raw[i]) && n < 8 {
					v = v*16 + hexVal(raw[i])
					i++
					n++
				}
				if n > 0 {
					writeCodePoint(&sb, v)
				}
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v, n := int(e-'0'), 1
				for i < len(raw) && raw[i] >= '0' && raw[i] <= '7' && n < 11 {
					v = v*8 + int(raw[i]-'0')
					i++
					n++
				}
				writeCodePoint(&sb, v)
			case '\n', '\r':
				if i < len(raw) && (raw[i] == '\n' || raw[i] == '\r') && raw[i] != e {
					i++
				}
			default:
				// QSettings drops an unknown escape entirely.
			}
			chopLimit = sb.Len()
		case c == '"':
			i++
			anyQuote = true
			quoted = !quoted
			if !quoted {
				skipBlanks()
			}
		case c == ',' && !quoted:
			items = append(items, chop())
			isList = true
			sb.Reset()
			anyQuote = false
			i++
			skipBlanks()
		default:
			j := i + 1
			for j < len(raw) && raw[j] != '\\' && raw[j] != '"' && raw[j] != ',' {
				j++
			}
			sb.Write(raw[i:j])
			i = j
		}
	}
	last := chop()
	if isList {
		return "", append(items, last), true
	}
	return last, nil, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

func writeCodePoint(sb *strings.Builder, v int) {
	if v < 0 || v > utf8.MaxRune {
		v = utf8.RuneError
	}
	sb.WriteRune(rune(v))
}

// variantString applies QSettings' stringToVariant markers to a stored
// string: "@@x" is the escaped form of "@x", "@Invalid()" is an unset value
// and "@ByteArray(x)" is the bytes x. Other "@…" values (serialized
// QVariants) are kept as text; Pushpin's config never uses them.
func variantString(s string) (string, bool) {
	if !strings.HasPrefix(s, "@") {
		return s, false
	}
	switch {
	case strings.HasPrefix(s, "@@"):
		return s[1:], false
	case s == "@Invalid()":
		return "", true
	case strings.HasPrefix(s, "@ByteArray(") && strings.HasSuffix(s, ")"):
		return s[len("@ByteArray(") : len(s)-1], false
	}
	return s, false
}
