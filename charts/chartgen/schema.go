package chartgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

// Errors of Schema, wrapped with the path of the value at fault.
var (
	// ErrValues: values.yaml is not a YAML map.
	ErrValues = errors.New("chartgen: values.yaml must be a YAML map")
	// ErrAnnotation: a comment's @schema block or description is malformed.
	ErrAnnotation = errors.New("chartgen: bad annotation")
	// ErrUndocumented: a value has no "# --" description. Only a map whose
	// keys are described themselves may go without one.
	ErrUndocumented = errors.New(`chartgen: value has no "# --" description`)
)

// Draft is the JSON Schema draft of the generated schema: draft-07, which
// every Helm 3 release validates.
const Draft = "http://json-schema.org/draft-07/schema#"

// Schema returns the JSON Schema of values, an annotated values.yaml (see
// the package documentation), indented by two spaces, with a final
// newline.
func Schema(values []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(values, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrValues, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, ErrValues
	}
	head, err := parseComment(doc.HeadComment)
	if err != nil {
		return nil, fmt.Errorf("the head of the file: %w", err)
	}
	root, _, err := schemaOf("", doc.Content[0], head, true)
	if err != nil {
		return nil, err
	}
	if _, ok := root.get("$schema"); !ok {
		root.set("$schema", Draft)
		root.sortKeywords()
	}
	compact, err := encode(root)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// schemaOf returns the schema of the value n at path, described by doc,
// and whether its parent requires it. A root needs no description.
func schemaOf(path string, n *yaml.Node, doc keyDoc, root bool) (*object, bool, error) {
	ann := newObject()
	if doc.schema != nil {
		v, err := fromYAML(doc.schema)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		ann = v.(*object)
	}
	required := false
	if r, ok := ann.get("required"); ok {
		if b, isBool := r.(bool); isBool {
			required = b
			ann.delete("required")
		}
	}
	_, hasRef := ann.get("$ref")
	_, hasOneOf := ann.get("oneOf")
	_, hasAnyOf := ann.get("anyOf")
	// A $ref, oneOf or anyOf says what the value is; an inferred type
	// beside it would narrow it (draft-07 even ignores siblings of $ref).
	infer := !hasRef && !hasOneOf && !hasAnyOf
	ap, hasAP := ann.get("additionalProperties")
	open := hasAP && ap != false

	s := newObject()
	if doc.description != "" {
		s.set("description", doc.description)
	}
	section := false // a map whose keys this schema lists
	switch n.Kind {
	case yaml.ScalarNode:
		if t := scalarType(n); t != "" && infer {
			s.set("type", t)
		}
	case yaml.SequenceNode:
		if infer {
			s.set("type", "array")
			if _, ok := ann.get("items"); !ok && len(n.Content) > 0 {
				if t := nodeType(n.Content[0]); t != "" {
					items := newObject()
					items.set("type", t)
					s.set("items", items)
				}
			}
		}
	case yaml.MappingNode:
		if infer {
			s.set("type", "object")
		}
		if infer && !open && len(n.Content) > 0 {
			section = true
			props, req, err := propertiesOf(path, n)
			if err != nil {
				return nil, false, err
			}
			s.set("properties", props)
			s.set("additionalProperties", false)
			if len(req) > 0 {
				s.set("required", req)
			}
		}
	default:
		return nil, false, fmt.Errorf("%s: %w: aliases and anchors are not supported", path, ErrAnnotation)
	}
	if !root && !section && doc.description == "" {
		if _, ok := ann.get("description"); !ok {
			return nil, false, fmt.Errorf("%s: %w", path, ErrUndocumented)
		}
	}

	childRequired, _ := s.get("required")
	s.merge(ann)
	if annRequired, ok := ann.get("required"); ok && childRequired != nil {
		s.set("required", union(annRequired, childRequired))
	}
	s.sortKeywords()
	return s, required, nil
}

// propertiesOf returns the schemas of the keys of the map n, in order, and
// the keys it requires.
func propertiesOf(path string, n *yaml.Node) (*object, []any, error) {
	props := newObject()
	var required []any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, nil, fmt.Errorf("%s: %w: line %d: a key must be a scalar", path, ErrValues, k.Line)
		}
		childPath := k.Value
		if path != "" {
			childPath = path + "." + k.Value
		}
		doc, err := parseComment(k.HeadComment)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", childPath, err)
		}
		child, req, err := schemaOf(childPath, v, doc, false)
		if err != nil {
			return nil, nil, err
		}
		props.set(k.Value, child)
		if req {
			required = append(required, k.Value)
		}
	}
	return props, required, nil
}

// scalarType is the JSON Schema type of a YAML scalar; "" for null.
func scalarType(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!str":
		return "string"
	case "!!int":
		return "integer"
	case "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	default:
		return ""
	}
}

// nodeType is the JSON Schema type of any YAML node.
func nodeType(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "array"
	case yaml.ScalarNode:
		return scalarType(n)
	default:
		return ""
	}
}

// union is a's items, then b's not in a. Both are []any of a required list.
func union(a, b any) any {
	as, okA := a.([]any)
	bs, okB := b.([]any)
	if !okA || !okB {
		return a
	}
	out := slices.Clone(as)
	for _, v := range bs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
