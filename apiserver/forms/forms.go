// Package forms decodes the API's JSON request bodies and validates them the way the Django REST
// Framework serializers of the replaced service did, so that clients see the same 400 bodies:
// {"field": ["message", ...]}. Decoding never panics and never fails with anything but a
// *ParseError (the body is not JSON) or an Errors (the JSON does not validate).
package forms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DRF's messages, kept verbatim because clients of the old service match on them.
const (
	msgRequired  = "This field is required."
	msgNull      = "This field may not be null."
	msgNotString = "Not a valid string."
	msgBlank     = "This field may not be blank."
	msgNullChar  = "Null characters are not allowed."
)

// NonFieldErrors is the key DRF uses for errors that concern the body as a whole.
const NonFieldErrors = "non_field_errors"

// Errors maps a field name to its validation messages; it is the body of a 400 response.
type Errors map[string][]string

// Add appends msg to field's messages.
func (e Errors) Add(field, msg string) { e[field] = append(e[field], msg) }

// Has reports whether field already has a message.
func (e Errors) Has(field string) bool { return len(e[field]) > 0 }

// Error lists the fields in order, for logs and wrapped errors.
func (e Errors) Error() string {
	fields := make([]string, 0, len(e))
	for f := range e {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f+": "+strings.Join(e[f], " "))
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// orNil returns e when it holds a message and nil otherwise, so callers can return it as error.
func (e Errors) orNil() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// ParseError says the body is not JSON at all; the API answers it with DRF's
// 400 {"detail": "JSON parse error - ..."}.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return "JSON parse error - " + e.Reason }

// object is a decoded JSON object whose fields are read one by one, collecting field errors.
type object struct {
	fields map[string]json.RawMessage
	errs   Errors
}

// parseObject decodes body as a JSON object. An empty body is an empty object, as in DRF, so
// that the client learns which fields are required.
func parseObject(body []byte) (*object, error) {
	o := &object{fields: map[string]json.RawMessage{}, errs: Errors{}}
	// encoding/json would turn invalid UTF-8 into U+FFFD and store it; DRF's parser refused
	// such a body while decoding it.
	if reason, bad := utf8Error(body); bad {
		return nil, &ParseError{Reason: reason}
	}
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return o, nil
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		if err == nil { // json.Valid and Unmarshal disagree only on pathological input
			err = fmt.Errorf("invalid JSON")
		}
		return nil, &ParseError{Reason: err.Error()}
	}
	if trimmed[0] != '{' {
		return nil, Errors{NonFieldErrors: {"Invalid data. Expected a dictionary, but got " + jsonKind(trimmed[0]) + "."}}
	}
	if err := json.Unmarshal(trimmed, &o.fields); err != nil {
		return nil, &ParseError{Reason: err.Error()}
	}
	return o, nil
}

// utf8Error describes the first invalid UTF-8 sequence of b in the words of Python's codec, as
// DRF's JSON parse error carried them: "'utf-8' codec can't decode byte 0xff in position 3:
// invalid start byte".
func utf8Error(b []byte) (string, bool) {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size != 1 {
			i += size
			continue
		}
		reason := "invalid continuation byte"
		switch {
		case b[i] < 0xc2 || b[i] > 0xf4:
			reason = "invalid start byte"
		case !utf8.FullRune(b[i:]):
			reason = "unexpected end of data"
		}
		return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", b[i], i, reason), true
	}
	return "", false
}

// loneSurrogate reports whether the JSON string token tok holds a \uD800–\uDFFF escape that is
// not half of a surrogate pair: it names no character, and encoding/json would silently decode
// it as U+FFFD.
func loneSurrogate(tok []byte) bool {
	high := false // the previous escape was a high surrogate awaiting its low half
	for i := 0; i < len(tok); i++ {
		if tok[i] != '\\' || i+1 >= len(tok) {
			if high {
				return true
			}
			continue
		}
		i++
		if tok[i] != 'u' || i+4 >= len(tok) {
			if high {
				return true
			}
			continue
		}
		v, err := strconv.ParseUint(string(tok[i+1:i+5]), 16, 16)
		i += 4
		switch {
		case err != nil:
			return false // not valid JSON; the decoder reports it
		case v >= 0xd800 && v < 0xdc00:
			if high {
				return true
			}
			high = true
		case v >= 0xdc00 && v < 0xe000:
			if !high {
				return true
			}
			high = false
		case high:
			return true
		}
	}
	return high
}

// trimJSONSpace trims the four whitespace characters JSON allows around a value. bytes.TrimSpace
// would also drop form feeds, vertical tabs and Unicode spaces, accepting bodies that are not
// JSON (and that DRF's parser refused).
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// jsonKind names a JSON value's type the way Python would, as DRF's message does.
func jsonKind(first byte) string {
	switch first {
	case '[':
		return "list"
	case '"':
		return "str"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	default:
		return "number"
	}
}

// stringField describes how one string field is validated.
type stringField struct {
	required   bool
	allowBlank bool
	minLen     int // in characters
	maxLen     int // in characters; 0 means unbounded
	maxBytes   int // 0 means unbounded
}

// str reads field as a string. ok is false when the field is absent or has an error (already
// recorded). Numbers are accepted as their literal text, like DRF's CharField does.
func (o *object) str(field string, spec stringField) (value string, ok bool) {
	raw, present := o.fields[field]
	if !present {
		if spec.required {
			o.errs.Add(field, msgRequired)
		}
		return "", false
	}
	raw = trimJSONSpace(raw)
	switch {
	case len(raw) == 0:
		o.errs.Add(field, msgNotString)
		return "", false
	case raw[0] == 'n':
		o.errs.Add(field, msgNull)
		return "", false
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &value); err != nil || loneSurrogate(raw) {
			o.errs.Add(field, msgNotString)
			return "", false
		}
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		value = string(raw)
	default:
		o.errs.Add(field, msgNotString)
		return "", false
	}
	if strings.ContainsRune(value, 0) {
		o.errs.Add(field, msgNullChar)
		return "", false
	}
	if !spec.allowBlank && strings.TrimSpace(value) == "" {
		o.errs.Add(field, msgBlank)
		return "", false
	}
	n := utf8.RuneCountInString(value)
	if spec.maxLen > 0 && n > spec.maxLen {
		o.errs.Add(field, fmt.Sprintf("Ensure this field has no more than %d characters.", spec.maxLen))
		return "", false
	}
	if spec.maxBytes > 0 && len(value) > spec.maxBytes {
		o.errs.Add(field, fmt.Sprintf("Ensure this field has no more than %d bytes.", spec.maxBytes))
		return "", false
	}
	if n < spec.minLen {
		o.errs.Add(field, fmt.Sprintf("Ensure this field has at least %d characters.", spec.minLen))
		return "", false
	}
	return value, true
}

// choice reads field as one of choices.
func (o *object) choice(field string, choices ...string) (string, bool) {
	v, ok := o.str(field, stringField{required: true})
	if !ok {
		return "", false
	}
	for _, c := range choices {
		if v == c {
			return v, true
		}
	}
	o.errs.Add(field, fmt.Sprintf("%q is not a valid choice.", v))
	return "", false
}
