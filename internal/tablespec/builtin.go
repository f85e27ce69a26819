package tablespec

import (
	_ "embed"
	"fmt"
)

//go:embed builtin.yaml
var builtinYAML []byte

// BuiltinName is the lake name of the built-in table.
const BuiltinName = "activity_log"

// Builtin returns the built-in spec file: the API's activity_log table alone.
func Builtin() File {
	f, err := Parse(builtinYAML)
	if err != nil {
		panic(fmt.Sprintf("built-in table spec: %v", err)) // a build defect, caught by every test
	}
	return f
}

// BuiltinYAML is the built-in spec's source, the template `logetl tables` prints.
func BuiltinYAML() []byte { return append([]byte(nil), builtinYAML...) }
