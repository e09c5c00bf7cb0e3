package exporter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Label is a constant label added to every series an exporter writes
// (for example guest="vm1", so that many guests can share one database).
type Label struct {
	Name, Value string
}

// String returns the label as name="value", the value escaped as the
// Prometheus text format wants.
func (l Label) String() string { return l.Name + "=" + quote(l.Value) }

// reserved are the label names the exporter's own series carry: a constant
// label of the same name would clash with them.
var reserved = []string{"comm", "event", "goversion", "le", "mode", "pid", "ring", "source", "version"}

// ParseLabel parses name=value. The name follows Prometheus' rules
// ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", which is reserved for
// internal use) and is none of the exporter's own label names; the value
// is any non-empty UTF-8 text (an empty value is the same as no label).
func ParseLabel(s string) (Label, error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return Label{}, fmt.Errorf("label %q: expected name=value", s)
	}
	if err := checkLabelName(name); err != nil {
		return Label{}, fmt.Errorf("label %q: %w", s, err)
	}
	if value == "" {
		return Label{}, fmt.Errorf("label %q: empty value (an empty label value is the same as no label)", s)
	}
	if !utf8.ValidString(value) {
		return Label{}, fmt.Errorf("label %q: value is not valid UTF-8", s)
	}
	return Label{Name: name, Value: value}, nil
}

func checkLabelName(name string) error {
	if name == "" {
		return errors.New("empty label name")
	}
	for i, c := range name {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return fmt.Errorf("label name %q: expected letters, digits and _, not starting with a digit", name)
		}
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("label name %q: names starting with __ are reserved", name)
	}
	if slices.Contains(reserved, name) {
		return fmt.Errorf("label name %q: gpuwatch's own series use it (reserved: %s)", name, strings.Join(reserved, ", "))
	}
	return nil
}

// Labels is a list of constant labels; as a flag.Value it collects a
// repeatable name=value flag, refusing a name given twice.
type Labels []Label

// String returns the labels as name="value" pairs joined by commas.
func (ls Labels) String() string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.String()
	}
	return strings.Join(parts, ",")
}

// Set parses one name=value and appends it.
func (ls *Labels) Set(s string) error {
	l, err := ParseLabel(s)
	if err != nil {
		return err
	}
	if ls.Has(l.Name) {
		return fmt.Errorf("label %q given twice", l.Name)
	}
	*ls = append(*ls, l)
	return nil
}

// Has reports whether a label of that name is in the list.
func (ls Labels) Has(name string) bool {
	return slices.ContainsFunc(ls, func(l Label) bool { return l.Name == name })
}
