package chartgen_test

import (
	"fmt"
	"os"

	"github.com/baton-dev/baton/charts/chartgen"
)

func ExampleSchema() {
	values := []byte(`
# @schema {enum: [json, text], required: true}
# -- Log format: json or text.
logFormat: json
`)
	schema, err := chartgen.Schema(values)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Print(string(schema))
	// Output:
	// {
	//   "$schema": "http://json-schema.org/draft-07/schema#",
	//   "type": "object",
	//   "properties": {
	//     "logFormat": {
	//       "description": "Log format: json or text.",
	//       "type": "string",
	//       "enum": [
	//         "json",
	//         "text"
	//       ]
	//     }
	//   },
	//   "additionalProperties": false,
	//   "required": [
	//     "logFormat"
	//   ]
	// }
}
