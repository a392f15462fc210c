package chartgen

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// keyDoc is what the comment above a key of values.yaml says.
type keyDoc struct {
	// schema is the @schema block, parsed; nil without one.
	schema *yaml.Node
	// description is the text of the "# --" line and its continuation
	// lines, joined by single spaces.
	description string
}

// parseComment reads a key's head comment (every line starting with "#").
func parseComment(comment string) (keyDoc, error) {
	var (
		doc                keyDoc
		block, desc        []string
		inBlock, seenBlock bool
		inDesc, endedDesc  bool
	)
	for _, line := range strings.Split(comment, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		text, ok := strings.CutPrefix(line, "#")
		if !ok {
			return keyDoc{}, fmt.Errorf("%w: %q is not a comment line", ErrAnnotation, line)
		}
		// One space after "#" is the comment's; more is YAML indentation.
		text = strings.TrimPrefix(text, " ")
		trimmed := strings.TrimSpace(text)
		switch {
		case trimmed == "@schema":
			if !inBlock && seenBlock {
				return keyDoc{}, fmt.Errorf("%w: more than one @schema block", ErrAnnotation)
			}
			inBlock, seenBlock = !inBlock, true
		case !inBlock && strings.HasPrefix(trimmed, "@schema "):
			// The one-line form: "@schema K: V, K: V" is the
			// flow map {K: V, K: V}.
			if seenBlock {
				return keyDoc{}, fmt.Errorf("%w: more than one @schema block", ErrAnnotation)
			}
			seenBlock = true
			line := strings.TrimSpace(strings.TrimPrefix(trimmed, "@schema "))
			if !strings.HasPrefix(line, "{") {
				line = "{" + line + "}"
			}
			block = append(block, line)
		case inBlock:
			block = append(block, text)
		case trimmed == "--" || strings.HasPrefix(trimmed, "-- "):
			if inDesc || endedDesc {
				return keyDoc{}, fmt.Errorf("%w: more than one \"# --\" description", ErrAnnotation)
			}
			inDesc = true
			desc = append(desc, strings.TrimSpace(strings.TrimPrefix(trimmed, "--")))
		case inDesc && strings.HasPrefix(trimmed, "@"):
			// A helm-docs directive such as "@default -- ..." ends
			// the description.
			inDesc, endedDesc = false, true
		case inDesc:
			desc = append(desc, trimmed)
		}
	}
	if inBlock {
		return keyDoc{}, fmt.Errorf("%w: @schema block without its closing \"# @schema\" line", ErrAnnotation)
	}
	if seenBlock {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(strings.Join(block, "\n")), &n); err != nil {
			return keyDoc{}, fmt.Errorf("%w: %w", ErrAnnotation, err)
		}
		if len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
			return keyDoc{}, fmt.Errorf("%w: an @schema block holds a YAML map of JSON Schema keywords", ErrAnnotation)
		}
		doc.schema = n.Content[0]
	}
	doc.description = strings.Join(strings.Fields(strings.Join(desc, " ")), " ")
	return doc, nil
}
