package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/scriptrun/scriptrun/internal/lazy"
)

// Scopes is a list of OAuth scopes. A file may give it as a YAML list or as
// one space-separated string, as providers document them
// ("openid offline_access").
type Scopes []string

// UnmarshalYAML accepts a list or a space-separated string. A wrong kind is
// reported as a type error so the decoder goes on to the file's other
// problems.
func (s *Scopes) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*s = nil
			return nil
		}
		*s = strings.Fields(n.Value)
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*s = list
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal !!%s into config.Scopes", n.Line, shortTag(n))}}
}

func shortTag(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "seq"
	}
	return strings.TrimPrefix(n.ShortTag(), "!!")
}

// fileProblem is a problem the strict decoding of the whole file found, on
// the line the file has it.
type fileProblem struct {
	line int
	msg  string
	// field is the unknown field's name, for "field X not found".
	field string
}

// typeProblems decodes the whole file strictly, so that every unknown field
// and every value of the wrong kind is found at once, each with its line in
// the file as written (decoding item by item would stop at the first
// problem of each, and re-encoding would lose the lines).
func typeProblems(data []byte) []fileProblem {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	err := dec.Decode(&f)
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return nil
	}
	out := make([]fileProblem, 0, len(te.Errors))
	for _, e := range te.Errors {
		out = append(out, plainProblem(e))
	}
	return out
}

var (
	lineMsg      = lazy.Regexp{Expr: `^line (\d+): (.*)$`}
	unknownField = lazy.Regexp{Expr: `^field (\S+) not found in type config\.(\w+)$`}
	wrongKind    = lazy.Regexp{Expr: `^cannot unmarshal !!(\w+)(?: ` + "`[^`]*`" + `)? into (\S+)$`}
)

// plainProblem turns one of yaml.v3's messages into plain words. The value
// itself is never repeated: it may be a secret pasted where a reference
// belongs.
func plainProblem(e string) fileProblem {
	p := fileProblem{line: 1, msg: e}
	if m := lineMsg.Get().FindStringSubmatch(e); m != nil {
		p.line, _ = strconv.Atoi(m[1])
		p.msg = m[2]
	}
	switch m := unknownField.Get().FindStringSubmatch(p.msg); {
	case m != nil:
		p.field = m[1]
		p.msg = fmt.Sprintf("unknown field %q for a %s (check its spelling; `scriptrun export` shows the fields)", m[1], strings.ToLower(m[2]))
	default:
		if m := wrongKind.Get().FindStringSubmatch(p.msg); m != nil {
			p.msg = "expected " + goTypeWords(m[2]) + ", got " + yamlTagWords(m[1])
			if strings.Contains(m[2], "SecretRef") {
				p.msg += ": a secret is never written in the file"
			}
		} else {
			p.msg = quotedValue.Get().ReplaceAllString(p.msg, "a value")
		}
	}
	return p
}

func goTypeWords(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "string":
		return "text"
	case "bool":
		return "true or false"
	case "int", "int64":
		return "a whole number"
	case "[]int":
		return "a list of whole numbers"
	case "[]string":
		return "a list of text"
	case "config.Scopes":
		return "a list of scopes or one space-separated string"
	case "map[string]string":
		return "a mapping of names to text"
	case "config.SecretRef":
		return "{env: VAR} or {file: PATH}"
	case "config.Rejection":
		return "a mapping with statuses, bodyPattern or bodyStatuses"
	case "config.Provider", "config.Token", "config.Job":
		return "a mapping of fields"
	case "[]config.Provider", "[]config.Token", "[]config.Job":
		return "a list"
	}
	return t
}

func yamlTagWords(tag string) string {
	switch tag {
	case "str":
		return "text"
	case "int", "float":
		return "a number"
	case "bool":
		return "true or false"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "null":
		return "nothing"
	}
	return tag
}

// pathAt returns the dotted path below n (scopes, rejection.statuses[1])
// of the key or value on line, and whether n holds that line at all.
func pathAt(n *yaml.Node, line int) (string, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Line == line {
				return k.Value, true
			}
			if sub, ok := pathAt(v, line); ok {
				switch {
				case sub == "":
					return k.Value, true
				case strings.HasPrefix(sub, "["):
					return k.Value + sub, true
				}
				return k.Value + "." + sub, true
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if sub, ok := pathAt(v, line); ok {
				if sub == "" {
					return fmt.Sprintf("[%d]", i), true
				}
				if strings.HasPrefix(sub, "[") {
					return fmt.Sprintf("[%d]%s", i, sub), true
				}
				return fmt.Sprintf("[%d].%s", i, sub), true
			}
		}
	}
	if n.Line == line {
		return "", true
	}
	return "", false
}
