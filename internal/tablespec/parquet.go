package tablespec

import (
	"github.com/parquet-go/parquet-go"
)

// Physical is how a column's values are held in Parquet, which decides how the export converts
// a MySQL value and how a reader turns it back.
type Physical uint8

// Physical representations.
const (
	PhysBoolean Physical = iota + 1
	PhysInt32
	PhysInt64
	PhysFloat
	PhysDouble
	PhysBytes // BYTE_ARRAY: strings, JSON, binary, pseudonyms, ciphertexts, text overrides
	PhysFixed // FIXED_LEN_BYTE_ARRAY: DECIMAL wider than 18 digits
)

// Physical returns the column's physical representation in the lake.
func (c Column) Physical() Physical {
	if c.Treatment == Pseudonym || c.Treatment == Seal || c.Parquet == "string" {
		return PhysBytes
	}
	switch c.Parquet {
	case "int32":
		return PhysInt32
	case "int64":
		return PhysInt64
	}
	t := c.typ
	switch t.Kind {
	case KindInt:
		if t.Bits == 64 {
			return PhysInt64
		}
		return PhysInt32
	case KindDecimal:
		switch {
		case t.Precision <= 9:
			return PhysInt32
		case t.Precision <= 18:
			return PhysInt64
		default:
			return PhysFixed
		}
	case KindFloat:
		return PhysFloat
	case KindDouble:
		return PhysDouble
	case KindDate, KindYear:
		return PhysInt32
	case KindDatetime, KindTimestamp, KindTime:
		return PhysInt64
	case KindBit:
		if t.Bits == 1 {
			return PhysBoolean
		}
		return PhysInt64
	}
	return PhysBytes
}

// DecimalBytes is the FIXED_LEN_BYTE_ARRAY length of a DECIMAL of this precision: the fewest
// bytes whose two's complement holds 10^precision - 1.
func DecimalBytes(precision int) int {
	// log2(10) = 3.3219...; one sign bit.
	bits := (precision*33219+9999)/10000 + 1
	return (bits + 7) / 8
}

// BaseNode is the column's Parquet leaf, without repetition or encoding: the logical type each
// engine (DuckDB, Athena/Trino, Spark) reads natively. See docs/tables.md for the table.
func (c Column) BaseNode() parquet.Node {
	switch {
	case c.Treatment == Pseudonym:
		return parquet.String()
	case c.Treatment == Seal:
		return parquet.Leaf(parquet.ByteArrayType)
	case c.Parquet == "string":
		return parquet.String()
	case c.Parquet == "int32":
		return parquet.Int(32)
	case c.Parquet == "int64":
		return parquet.Int(64)
	}
	t := c.typ
	switch t.Kind {
	case KindInt:
		bits := t.Bits
		if bits == 24 {
			bits = 32
		}
		if t.Unsigned {
			return parquet.Uint(bits)
		}
		return parquet.Int(bits)
	case KindDecimal:
		switch c.Physical() {
		case PhysInt32:
			return parquet.Decimal(t.Scale, t.Precision, parquet.Int32Type)
		case PhysInt64:
			return parquet.Decimal(t.Scale, t.Precision, parquet.Int64Type)
		default:
			return parquet.Decimal(t.Scale, t.Precision, parquet.FixedLenByteArrayType(DecimalBytes(t.Precision)))
		}
	case KindFloat:
		return parquet.Leaf(parquet.FloatType)
	case KindDouble:
		return parquet.Leaf(parquet.DoubleType)
	case KindString:
		return parquet.String()
	case KindJSON:
		return parquet.JSON()
	case KindBytes:
		return parquet.Leaf(parquet.ByteArrayType)
	case KindDate:
		return parquet.Date()
	case KindDatetime, KindTimestamp:
		return parquet.Timestamp(parquet.Microsecond)
	case KindTime:
		return parquet.TimeAdjusted(parquet.Microsecond, false)
	case KindYear:
		return parquet.Int(16)
	case KindBit:
		if t.Bits == 1 {
			return parquet.Leaf(parquet.BooleanType)
		}
		if t.Bits == 64 {
			return parquet.Uint(64)
		}
		return parquet.Int(64)
	}
	return parquet.Leaf(parquet.ByteArrayType)
}

// Dictionary reports whether the column is dictionary encoded when the spec does not say:
// strings and pseudonyms repeat (actions, routes, a window's few users) and shrink to small
// integers; numbers, times and binary values rarely repeat enough to pay for a dictionary.
// Sealed columns are decided by the field-encryption mode, not here.
func (c Column) Dictionary() bool {
	switch c.Encoding {
	case "dict":
		return true
	case "plain":
		return false
	}
	if c.Treatment == Pseudonym {
		return true
	}
	if c.Treatment == Seal {
		return false
	}
	switch {
	case c.Parquet == "string":
		return true
	case c.Parquet != "":
		return false
	}
	return c.typ.Kind == KindString
}
