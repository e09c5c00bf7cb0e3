package tracefs

import "io"

// FormatField is one field of an event's tracefs format file.
type FormatField struct {
	Name    string
	Type    string // declaration without the name, e.g. "__data_loc char[]", "u64", "const char *"
	Offset  int
	Size    int
	Signed  bool
	DataLoc bool // __data_loc or __rel_loc: a u32 holding offset (low 16) and length (high 16)
	RelLoc  bool // __rel_loc: the offset counts from the end of the field
	Array   bool // fixed-size array, e.g. char comm[16]
}

// FormatFile is an events/SYSTEM/EVENT/format file.
type FormatFile struct {
	System, Name string
	ID           uint16
	Fields       []FormatField
}

// Field returns the field called name; false when the format has none (or
// name is "").
func (f *FormatFile) Field(name string) (*FormatField, bool) {
	if name == "" {
		return nil, false
	}
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i], true
		}
	}
	return nil, false
}

// ParseFormatFile reads an events/SYSTEM/EVENT/format file. It is the
// live decoder's parser, exported for the eBPF loader.
func ParseFormatFile(r io.Reader, system string) (*FormatFile, error) {
	lf, err := liveParseFormat(r, system)
	if err != nil {
		return nil, err
	}
	f := &FormatFile{System: lf.System, Name: lf.Name, ID: lf.ID, Fields: make([]FormatField, len(lf.Fields))}
	for i, fd := range lf.Fields {
		f.Fields[i] = FormatField{
			Name: fd.Name, Type: fd.Type, Offset: fd.Offset, Size: fd.Size, Signed: fd.Signed,
			DataLoc: fd.DataLoc, Array: fd.Array,
			RelLoc: len(fd.Type) >= 9 && fd.Type[:9] == "__rel_loc",
		}
	}
	return f, nil
}
