package chartgen

import (
	"bytes"
	"encoding/json"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// object is a JSON object that keeps its keys in order, so that the
// schema lists properties in the order of values.yaml.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// set adds k at the end, or replaces its value in place.
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) delete(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			return
		}
	}
}

// merge sets every key of from in o; where both hold an object, it merges
// them rather than replacing o's.
func (o *object) merge(from *object) {
	for _, k := range from.keys {
		v := from.vals[k]
		if dst, ok := o.vals[k].(*object); ok {
			if src, ok := v.(*object); ok {
				dst.merge(src)
				continue
			}
		}
		o.set(k, v)
	}
}

// keywordOrder is the order of the keywords of a generated schema; other
// keywords follow in the order of their annotation.
var keywordOrder = []string{
	"$schema", "$id", "title", "description", "$ref", "type", "enum", "const", "format",
	"pattern", "minLength", "maxLength", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum",
	"multipleOf", "minItems", "maxItems", "uniqueItems", "items", "propertyNames",
	"properties", "additionalProperties", "required",
}

// sortKeywords puts o's keys in keywordOrder.
func (o *object) sortKeywords() {
	keys := make([]string, 0, len(o.keys))
	known := map[string]bool{}
	for _, k := range keywordOrder {
		known[k] = true
		if _, ok := o.vals[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range o.keys {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	o.keys = keys
}

// MarshalJSON writes o compactly, in key order, without HTML escapes.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, err := encode(k)
		if err != nil {
			return nil, err
		}
		val, err := encode(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encode is json.Marshal without the escapes of <, > and &, which a
// pattern may hold.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// fromYAML turns a YAML node of an annotation into JSON values: maps into
// *object in source order, sequences into []any, scalars into what YAML
// resolves them to.
func fromYAML(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		o := newObject()
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w: line %d: a key must be a scalar", ErrAnnotation, k.Line)
			}
			v, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			o.set(k.Value, v)
		}
		return o, nil
	case yaml.SequenceNode:
		items := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrAnnotation, n.Line, err)
		}
		return v, nil
	default:
		return nil, fmt.Errorf("%w: line %d: aliases and anchors are not supported", ErrAnnotation, n.Line)
	}
}
