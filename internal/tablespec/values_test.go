package tablespec

import (
	"errors"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func col(t *testing.T, typ string, treatment Treatment, override string) Column {
	t.Helper()
	c := Column{Name: "c", Type: typ, Treatment: treatment, Parquet: override}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFileValueAndBackKeepEveryKindsValue(t *testing.T) {
	tests := []struct {
		typ, override string
		src           parquet.Value
		text          string
		json          string
	}{
		{"bigint unsigned", "", parquet.Int64Value(-1), "18446744073709551615", "18446744073709551615"},
		{"bigint unsigned", "int64", parquet.Int64Value(42), "42", "42"},
		{"int", "", parquet.Int64Value(-7), "-7", "-7"},
		{"int unsigned", "", parquet.Int64Value(4294967295), "4294967295", "4294967295"},
		{"smallint unsigned", "int32", parquet.Int64Value(404), "404", "404"},
		{"tinyint", "", parquet.Int64Value(-128), "-128", "-128"},
		{"decimal(10,2)", "", parquet.ByteArrayValue([]byte("-12.30")), "-12.30", `"-12.30"`},
		{"decimal(30,4)", "", parquet.ByteArrayValue([]byte("123456789012345678901234.5678")), "123456789012345678901234.5678", `"123456789012345678901234.5678"`},
		{"decimal(30,4)", "", parquet.ByteArrayValue([]byte("-0.0001")), "-0.0001", `"-0.0001"`},
		{"double", "", parquet.DoubleValue(0.1), "0.1", "0.1"},
		{"float", "", parquet.FloatValue(1.5), "1.5", "1.5"},
		{"varchar(10)", "", parquet.ByteArrayValue([]byte("héllo\"")), "héllo\"", `"héllo\""`},
		{"json", "", parquet.ByteArrayValue([]byte(`{"a":[1,2]}`)), `{"a":[1,2]}`, `{"a":[1,2]}`},
		{"varbinary(4)", "", parquet.ByteArrayValue([]byte{0, 255}), "\x00\xff", `"AP8="`},
		{"date", "", parquet.Int32Value(20416), "2025-11-24", `"2025-11-24"`},
		{"datetime(6)", "", parquet.Int64Value(1764000000123456), "2025-11-24T16:00:00.123456Z", `"2025-11-24T16:00:00.123456Z"`},
		{"time(6)", "", parquet.Int64Value(3723_500000), "01:02:03.5", `"01:02:03.5"`},
		{"time", "string", parquet.Int64Value(-(838*3600 + 59*60 + 59) * 1e6), "-838:59:59", `"-838:59:59"`},
		{"year", "", parquet.Int64Value(2026), "2026", "2026"},
		{"bit(1)", "", parquet.Int64Value(1), "1", "true"},
		{"bit(12)", "", parquet.Int64Value(4095), "4095", "4095"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.override+"/"+tt.text, func(t *testing.T) {
			c := col(t, tt.typ, Clear, tt.override)
			if got := string(AppendText(nil, c, tt.src)); got != tt.text {
				t.Fatalf("text %q, want %q", got, tt.text)
			}
			fv, err := FileValue(c, tt.src)
			if err != nil {
				t.Fatal(err)
			}
			back, err := SourceValue(c, fv)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(AppendText(nil, c, back)); got != tt.text {
				t.Fatalf("file form read back as %q, want %q", got, tt.text)
			}
			if got := string(JSON(c, back)); got != tt.json {
				t.Fatalf("json %s, want %s", got, tt.json)
			}
			// A sealed column stores the text; decrypt parses it back to the same value.
			parsed, err := ParseText(c, []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(AppendText(nil, c, parsed)); got != tt.text {
				t.Fatalf("ParseText round trip %q, want %q", got, tt.text)
			}
		})
	}
}

func TestFileValueRefusesWhatTheFileCannotHold(t *testing.T) {
	tests := []struct {
		typ, override string
		src           parquet.Value
	}{
		{"bigint unsigned", "int64", parquet.Int64Value(-1)},
		{"time", "", parquet.Int64Value(25 * 3600 * 1e6)},
		{"time", "", parquet.Int64Value(-1)},
		{"decimal(5,2)", "", parquet.ByteArrayValue([]byte("1234.5"))},
		{"decimal(5,2)", "", parquet.ByteArrayValue([]byte("1.234"))},
	}
	for _, tt := range tests {
		if _, err := FileValue(col(t, tt.typ, Clear, tt.override), tt.src); !errors.Is(err, ErrValue) {
			t.Errorf("%s %s %v: err %v, want ErrValue", tt.typ, tt.override, tt.src, err)
		}
	}
}

func TestNullStaysNull(t *testing.T) {
	c := col(t, "int", Clear, "")
	v, err := FileValue(c, parquet.NullValue())
	if err != nil || !v.IsNull() {
		t.Fatalf("%v %v", v, err)
	}
	if string(JSON(c, parquet.NullValue())) != "null" {
		t.Fatal("null JSON")
	}
}

// The int64 fast path of DECIMAL values gives the general path's value or error, for every
// precision and scale a DECIMAL stored as INT32 or INT64 can have.
func TestDecimalFastPathMatchesTheGeneralPath(t *testing.T) {
	inputs := []string{"0", "-0", "0.00", "5", "5.", ".5", "-.5", "12.30", "-12.30", "1.230", "1.235",
		"007.50", "999999999999999999", "99999999999999999.9", "-0.0001", "123456789012345678",
		"1234567890123456789", "", "-", ".", "1..2", "1.2.3", "1e5", "12a", " 1", "0000000000000000000001",
		"100", "10.10", "9.999", "-999.99"}
	for prec := 1; prec <= 18; prec++ {
		for scale := 0; scale <= min(prec, 6); scale++ {
			col := Column{Name: "d", typ: Type{Kind: KindDecimal, Precision: prec, Scale: scale}}
			for _, in := range inputs {
				got, gotErr := unscaledInt64(col, []byte(in))
				want, wantErr := unscaledBig(col, []byte(in))
				if (gotErr != nil) != (wantErr != nil) {
					t.Errorf("decimal(%d,%d) %q: fast path error %v, general path error %v", prec, scale, in, gotErr, wantErr)
					continue
				}
				if gotErr == nil && want.Int64() != got {
					t.Errorf("decimal(%d,%d) %q: fast path %d, general path %s", prec, scale, in, got, want)
				}
			}
		}
	}
}
