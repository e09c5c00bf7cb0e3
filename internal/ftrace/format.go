package ftrace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Field is one field of an event's format file:
//
//	field:TYPE NAME;	offset:N;	size:N;	signed:N;
type Field struct {
	Name string
	// Type is the declaration without the name and array suffix, e.g.
	// "unsigned short", "__data_loc char[]", "char", "const char *".
	Type         string
	Offset, Size int
	Signed       bool
	// DataLoc: a u32 holding the payload's offset (low 16 bits, from the
	// record start) and length (high 16 bits).
	DataLoc bool
	// RelLoc: like DataLoc, but the offset counts from the end of the field.
	RelLoc bool
	// ArrayLen is N of a fixed array "TYPE NAME[N]"; 0 otherwise.
	ArrayLen int
}

// Format is an events/SYSTEM/EVENT/format file (or the same text as a
// trace.dat file stores it).
type Format struct {
	// System is the directory the format was read from; the file itself
	// does not name it, so callers set it (ParseFormat leaves it "").
	System, Name string
	ID           uint16
	// Common are the common_* fields, Fields the event's own.
	Common, Fields []Field
	// PrintFmt is the text after "print fmt: ", verbatim.
	PrintFmt string
}

// Field returns the field called name, common fields included.
func (f *Format) Field(name string) (*Field, bool) {
	if name == "" {
		return nil, false
	}
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i], true
		}
	}
	for i := range f.Common {
		if f.Common[i].Name == name {
			return &f.Common[i], true
		}
	}
	return nil, false
}

// ParseFormat reads a format file. Errors name the line and what was
// expected.
func ParseFormat(r io.Reader) (*Format, error) {
	f := &Format{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	haveID, haveName := false, false
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || s == "format:":
		case strings.HasPrefix(s, "name:"):
			f.Name, haveName = strings.TrimSpace(s[len("name:"):]), true
		case strings.HasPrefix(s, "ID:"):
			id, err := strconv.ParseUint(strings.TrimSpace(s[len("ID:"):]), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("line %d: expected a 16-bit event ID: %w", line, err)
			}
			f.ID, haveID = uint16(id), true
		case strings.HasPrefix(s, "field:"):
			fd, err := fmtParseField(s)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			if strings.HasPrefix(fd.Name, "common_") {
				f.Common = append(f.Common, fd)
			} else {
				f.Fields = append(f.Fields, fd)
			}
		case strings.HasPrefix(s, "print fmt:"):
			f.PrintFmt = strings.TrimSpace(s[len("print fmt:"):])
		default:
			return nil, fmt.Errorf("line %d: expected name:, ID:, format:, field: or print fmt:, got %q", line, fmtClip(s))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if !haveName {
		return nil, errors.New("no name: line")
	}
	if !haveID {
		return nil, errors.New("no ID: line")
	}
	return f, nil
}

func fmtClip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// fmtParseField parses "field:TYPE NAME;	offset:N;	size:N;	signed:N;".
// header_page writes "field: u64 timestamp;" with a space, and old kernels
// omit signed:.
func fmtParseField(s string) (Field, error) {
	var fd Field
	parts := strings.Split(s, ";")
	if len(parts) < 3 {
		return fd, fmt.Errorf("expected field:DECL; offset:N; size:N;, got %q", fmtClip(s))
	}
	decl := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(parts[0]), "field:"))
	d := decl
	if strings.HasSuffix(d, "]") {
		i := strings.LastIndexByte(d, '[')
		if i < 0 {
			return fd, fmt.Errorf("unbalanced ] in %q", decl)
		}
		if n := strings.TrimSpace(d[i+1 : len(d)-1]); n != "" {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				// A symbolic length (e.g. TASK_COMM_LEN in old kernels) is
				// still an array; its size says how long (set below).
				v = -1
			}
			fd.ArrayLen = v
		}
		d = strings.TrimSpace(d[:i])
	}
	i := strings.LastIndexAny(d, " *")
	if i < 0 || i == len(d)-1 {
		return fd, fmt.Errorf("expected TYPE NAME in %q", decl)
	}
	fd.Name = d[i+1:]
	fd.Type = strings.TrimSpace(d[:i+1])
	switch {
	case strings.HasPrefix(decl, "__data_loc"):
		fd.DataLoc, fd.ArrayLen = true, 0
	case strings.HasPrefix(decl, "__rel_loc"):
		fd.RelLoc, fd.ArrayLen = true, 0
	}
	seen := 0
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return fd, fmt.Errorf("expected KEY:VALUE, got %q in field %s", fmtClip(p), fd.Name)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fd, fmt.Errorf("field %s: %s is not a number: %q", fd.Name, k, v)
		}
		switch strings.TrimSpace(k) {
		case "offset":
			fd.Offset, seen = n, seen|1
		case "size":
			fd.Size, seen = n, seen|2
		case "signed":
			fd.Signed = n != 0
		}
	}
	if seen != 3 {
		return fd, fmt.Errorf("field %s: expected offset: and size:", fd.Name)
	}
	if fd.Offset < 0 || fd.Size <= 0 || fd.Offset > 1<<20 || fd.Size > 1<<20 {
		return fd, fmt.Errorf("field %s: bad offset %d or size %d", fd.Name, fd.Offset, fd.Size)
	}
	if fd.ArrayLen < 0 {
		fd.ArrayLen = fd.Size // symbolic length: count bytes
	}
	return fd, nil
}
