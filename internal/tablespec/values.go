package tablespec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Values move through the export in two forms:
//
//   - the source form, what the extract makes of a MySQL value, by kind: integers, YEAR and BIT
//     as Int64 (unsigned ones as their bit pattern), FLOAT and DOUBLE as Float and Double, DATE
//     as Int32 days since 1970-01-01, DATETIME and TIMESTAMP as Int64 microseconds since the
//     Unix epoch (UTC), TIME as Int64 microseconds (negative or over a day allowed), and
//     everything else (strings, JSON, binary, DECIMAL's text) as ByteArray;
//   - the file form, what the Parquet column holds (Column.Physical), made by FileValue for
//     clear columns and by the protector for pseudonym and seal columns from the value's
//     canonical text (AppendText).
//
// A NULL is parquet's null value in both forms.

// ErrValue marks a value the column's declared type cannot hold in the file (an unsigned id of
// 2^63 or more under parquet: int64, a TIME outside one day, a DECIMAL with too many digits).
var ErrValue = errors.New("value does not fit its column")

// FileValue converts a clear column's source-form value to its file form.
func FileValue(c Column, v parquet.Value) (parquet.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	if c.Parquet == "string" {
		return parquet.ByteArrayValue(AppendText(nil, c, v)), nil
	}
	t := c.typ
	switch t.Kind {
	case KindInt, KindYear:
		n := v.Int64()
		switch c.Physical() {
		case PhysInt32:
			// MySQL keeps a value within its column's type, which the mapping holds (an unsigned
			// INT as UINT32's bit pattern; Validate allows parquet: int32 only where it fits).
			return parquet.Int32Value(int32(n)), nil
		default:
			if t.Unsigned && c.Parquet == "int64" && n < 0 {
				return v, fmt.Errorf("%w: %s = %d is 2^63 or more; parquet: int64 holds smaller values only", ErrValue, c.Name, uint64(n))
			}
			return v, nil
		}
	case KindBit:
		if t.Bits == 1 {
			return parquet.BooleanValue(v.Int64() != 0), nil
		}
		return v, nil
	case KindDecimal:
		return decimalValue(c, v.ByteArray())
	case KindTime:
		if us := v.Int64(); us < 0 || us >= int64(24*time.Hour/time.Microsecond) {
			return v, fmt.Errorf("%w: %s = %s is not a time of day; declare it parquet: string", ErrValue, c.Name, AppendText(nil, c, v))
		}
		return v, nil
	}
	return v, nil
}

// decimalValue turns DECIMAL text ("-12.30") into the unscaled integer of the column's scale.
func decimalValue(c Column, text []byte) (parquet.Value, error) {
	switch c.Physical() {
	case PhysInt32, PhysInt64:
		// Precision at most 18: the unscaled value fits an int64, so it is read digit by digit
		// without the strings and big.Int of the general path (a DECIMAL column in every row).
		n, err := unscaledInt64(c, text)
		if err != nil {
			return parquet.Value{}, err
		}
		if c.Physical() == PhysInt32 {
			return parquet.Int32Value(int32(n)), nil
		}
		return parquet.Int64Value(n), nil
	}
	n, err := unscaledBig(c, text)
	if err != nil {
		return parquet.Value{}, err
	}
	return parquet.FixedLenByteArrayValue(twosComplement(n, DecimalBytes(c.typ.Precision))), nil
}

// unscaledInt64 is text's unscaled value at the column's scale, for precisions up to 18.
func unscaledInt64(c Column, text []byte) (int64, error) {
	t := c.typ
	p := text
	neg := len(p) > 0 && p[0] == '-'
	if neg {
		p = p[1:]
	}
	var n int64
	digits, frac := 0, -1 // significant digits so far; digits after the point (-1: no point)
	seen := false         // any digit at all
	for _, ch := range p {
		switch {
		case ch == '.' && frac < 0:
			frac = 0
			continue
		case ch < '0' || ch > '9':
			return 0, fmt.Errorf("%w: %s = %q is not a decimal", ErrValue, c.Name, text)
		}
		seen = true
		if frac >= 0 {
			if frac == t.Scale {
				if ch != '0' {
					return 0, fmt.Errorf("%w: %s = %q has more than %d decimals", ErrValue, c.Name, text, t.Scale)
				}
				continue
			}
			frac++
		}
		if n == 0 && ch == '0' {
			continue // a leading zero
		}
		if digits++; digits > t.Precision {
			return 0, fmt.Errorf("%w: %s = %q has more than %d digits", ErrValue, c.Name, text, t.Precision)
		}
		n = n*10 + int64(ch-'0')
	}
	if !seen {
		return 0, fmt.Errorf("%w: %s = %q is not a decimal", ErrValue, c.Name, text)
	}
	for range t.Scale - max(frac, 0) {
		if n != 0 {
			if digits++; digits > t.Precision {
				return 0, fmt.Errorf("%w: %s = %q has more than %d digits", ErrValue, c.Name, text, t.Precision)
			}
		}
		n *= 10
	}
	if neg {
		n = -n
	}
	return n, nil
}

// unscaledBig is text's unscaled value at the column's scale, for any precision.
func unscaledBig(c Column, text []byte) (*big.Int, error) {
	t := c.typ
	s := string(text)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	if ip+fp == "" || strings.Trim(ip+fp, "0123456789") != "" {
		return nil, fmt.Errorf("%w: %s = %q is not a decimal", ErrValue, c.Name, text)
	}
	if len(fp) > t.Scale {
		if strings.TrimRight(fp[t.Scale:], "0") != "" {
			return nil, fmt.Errorf("%w: %s = %q has more than %d decimals", ErrValue, c.Name, text, t.Scale)
		}
		fp = fp[:t.Scale]
	}
	digits := strings.TrimLeft(ip+fp+strings.Repeat("0", t.Scale-len(fp)), "0")
	if digits == "" {
		digits = "0"
	}
	if len(digits) > t.Precision {
		return nil, fmt.Errorf("%w: %s = %q has more than %d digits", ErrValue, c.Name, text, t.Precision)
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("%w: %s = %q is not a decimal", ErrValue, c.Name, text)
	}
	if neg {
		n.Neg(n)
	}
	return n, nil
}

// twosComplement is n as a big-endian two's complement of size bytes.
func twosComplement(n *big.Int, size int) []byte {
	out := make([]byte, size)
	if n.Sign() >= 0 {
		n.FillBytes(out)
		return out
	}
	// -n = 2^(8·size) - |n|
	m := new(big.Int).Lsh(big.NewInt(1), uint(8*size))
	m.Add(m, n)
	m.FillBytes(out)
	return out
}

// AppendText appends the canonical text of a source-form value: what a seal encrypts, what a
// pseudonym hashes for non-integer kinds, what parquet: string stores, and how decrypt prints
// a sealed value. Integers in decimal (unsigned ones as unsigned), floats in Go's shortest
// form, DECIMAL as MySQL wrote it, dates as 2006-01-02, times as RFC 3339 in UTC with
// microseconds, TIME as [-]HH:MM:SS[.ffffff], strings and binary as their bytes.
func AppendText(dst []byte, c Column, v parquet.Value) []byte {
	t := c.typ
	switch t.Kind {
	case KindInt, KindYear, KindBit:
		if t.Unsigned || t.Kind == KindBit {
			return strconv.AppendUint(dst, uint64(v.Int64()), 10)
		}
		return strconv.AppendInt(dst, v.Int64(), 10)
	case KindFloat:
		return strconv.AppendFloat(dst, float64(v.Float()), 'g', -1, 32)
	case KindDouble:
		return strconv.AppendFloat(dst, v.Double(), 'g', -1, 64)
	case KindDate:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
	case KindDatetime, KindTimestamp:
		return time.UnixMicro(v.Int64()).UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999Z07:00")
	case KindTime:
		us := v.Int64()
		if us < 0 {
			dst = append(dst, '-')
			us = -us
		}
		sec := us / 1e6
		dst = fmt.Appendf(dst, "%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
		if frac := us % 1e6; frac != 0 {
			dst = append(dst, strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")...)
		}
		return dst
	}
	return append(dst, v.ByteArray()...)
}

// JSON renders a source-form value (a clear column's, or a sealed column's decrypted text read
// back with ParseText) as a JSON value for `logetl decrypt`: numbers as numbers, DECIMAL as a
// string of its exact text, times as RFC 3339 strings, JSON as itself, binary as base64.
func JSON(c Column, v parquet.Value) []byte {
	if v.IsNull() {
		return []byte("null")
	}
	t := c.typ
	switch t.Kind {
	case KindInt, KindYear, KindBit:
		if t.Kind == KindBit && t.Bits == 1 && c.Parquet != "string" {
			return strconv.AppendBool(nil, v.Int64() != 0)
		}
		return AppendText(nil, c, v)
	case KindFloat, KindDouble:
		f := v.Double()
		if t.Kind == KindFloat {
			f = float64(v.Float())
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return strconv.AppendQuote(nil, string(AppendText(nil, c, v)))
		}
		return AppendText(nil, c, v)
	case KindJSON:
		return append([]byte(nil), v.ByteArray()...)
	case KindBytes:
		return strconv.AppendQuote(nil, base64.StdEncoding.EncodeToString(v.ByteArray()))
	}
	return QuoteJSON(AppendText(nil, c, v))
}

// ParseText turns canonical text (a decrypted seal, a parquet: string value) back into the
// source form of the column's kind.
func ParseText(c Column, text []byte) (parquet.Value, error) {
	t := c.typ
	s := string(text)
	bad := func(err error) (parquet.Value, error) {
		return parquet.Value{}, fmt.Errorf("%w: %s: %q is not a %s value: %v", ErrValue, c.Name, s, t, err)
	}
	switch t.Kind {
	case KindInt, KindYear, KindBit:
		if t.Unsigned || t.Kind == KindBit {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return bad(err)
			}
			return parquet.Int64Value(int64(n)), nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad(err)
		}
		return parquet.Int64Value(n), nil
	case KindFloat:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return bad(err)
		}
		return parquet.FloatValue(float32(f)), nil
	case KindDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad(err)
		}
		return parquet.DoubleValue(f), nil
	case KindDate:
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad(err)
		}
		return parquet.Int32Value(int32(d.Unix() / 86400)), nil
	case KindDatetime, KindTimestamp:
		d, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad(err)
		}
		return parquet.Int64Value(d.UnixMicro()), nil
	case KindTime:
		us, err := ParseMySQLTime(text)
		if err != nil {
			return bad(err)
		}
		return parquet.Int64Value(us), nil
	}
	return parquet.ByteArrayValue(append([]byte(nil), text...)), nil
}

// ParseMySQLTime reads MySQL's TIME text, [-][H]HH:MM:SS[.ffffff], as microseconds.
func ParseMySQLTime(b []byte) (int64, error) {
	s := string(b)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	hms, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("time %q is not HH:MM:SS", b)
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("time %q is not HH:MM:SS", b)
		}
		n[i] = v
	}
	us := ((n[0]*60+n[1])*60 + n[2]) * 1e6
	if frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("time %q: fraction: %v", b, err)
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

// SourceValue turns a clear column's file-form value back into the source form (the inverse
// of FileValue), for decrypt and the tests.
func SourceValue(c Column, v parquet.Value) (parquet.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	if c.Parquet == "string" {
		return ParseText(c, v.ByteArray())
	}
	t := c.typ
	switch t.Kind {
	case KindInt, KindYear:
		if c.Physical() == PhysInt32 {
			if t.Unsigned {
				return parquet.Int64Value(int64(uint32(v.Int32()))), nil
			}
			return parquet.Int64Value(int64(v.Int32())), nil
		}
	case KindBit:
		if t.Bits == 1 {
			if v.Boolean() {
				return parquet.Int64Value(1), nil
			}
			return parquet.Int64Value(0), nil
		}
	case KindDecimal:
		var n *big.Int
		switch c.Physical() {
		case PhysInt32:
			n = big.NewInt(int64(v.Int32()))
		case PhysInt64:
			n = big.NewInt(v.Int64())
		default:
			b := v.ByteArray()
			n = new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		return parquet.ByteArrayValue([]byte(decimalText(n, t.Scale))), nil
	}
	return v, nil
}

func decimalText(n *big.Int, scale int) string {
	s := new(big.Int).Abs(n).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if n.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// QuoteJSON renders text as a JSON string (invalid UTF-8 as U+FFFD: JSON cannot hold it).
func QuoteJSON(b []byte) []byte {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range strings.ToValidUTF8(string(b), "\uFFFD") {
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r < 0x20:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return []byte(sb.String())
}

// ID reads an id column's file-form value as the unsigned bit pattern the manifests and
// purges use (the source form of an integer is that pattern already).
func ID(c Column, v parquet.Value) uint64 {
	if v.Kind() == parquet.Int32 {
		if c.typ.Unsigned {
			return uint64(uint32(v.Int32()))
		}
		return uint64(int64(v.Int32()))
	}
	return uint64(v.Int64())
}
