package ftrace

import (
	"os"
	"strings"
	"testing"
)

func loadHeaders(t testing.TB) (PageLayout, HeaderEvent) {
	t.Helper()
	hp, err := os.ReadFile("testdata/format/header_page")
	if err != nil {
		t.Fatal(err)
	}
	he, err := os.ReadFile("testdata/format/header_event")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseHeaderPage(strings.NewReader(string(hp)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeaderEvent(strings.NewReader(string(he)))
	if err != nil {
		t.Fatal(err)
	}
	return l, h
}

// The machine's files (verbatim) give the 64-bit defaults.
func TestHeadersVerbatim(t *testing.T) {
	l, h := loadHeaders(t)
	if l != DefaultPageLayout || l.PageSize() != 4096 {
		t.Errorf("layout %+v", l)
	}
	if h != DefaultHeaderEvent {
		t.Errorf("header event %+v", h)
	}
}

// Values are taken from the text, not from constants.
func TestHeadersFromText(t *testing.T) {
	l, err := ParseHeaderPage(strings.NewReader("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n" +
		"\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;\n" +
		"\tfield: char data;\toffset:12;\tsize:8180;\tsigned:0;\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l.CommitSize != 4 || l.DataOffset != 12 || l.PageSize() != 8192 {
		t.Errorf("layout %+v", l)
	}
	h, err := ParseHeaderEvent(strings.NewReader("type_len : 6 bits\ntime_delta : 26 bits\npadding : type == 60\ntime_extend : type == 61\ntime_stamp : type == 62\ndata max type_len == 59\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h.TypeLenBits != 6 || h.TimeDeltaBits != 26 || h.Padding != 60 || h.DataMax != 59 {
		t.Errorf("header %+v", h)
	}
}

// Absent fields fall back to the documented defaults.
func TestHeadersDefaults(t *testing.T) {
	l, err := ParseHeaderPage(strings.NewReader("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"))
	if err != nil || l != DefaultPageLayout {
		t.Errorf("layout %+v, %v", l, err)
	}
	h, err := ParseHeaderEvent(strings.NewReader("# compressed entry header\n\ttype_len    :    5 bits\n"))
	if err != nil || h != DefaultHeaderEvent {
		t.Errorf("header %+v, %v", h, err)
	}
}

func TestHeadersErrors(t *testing.T) {
	if _, err := ParseHeaderPage(strings.NewReader("field: local_t commit; offset:8; size:3;\n")); err == nil {
		t.Error("commit size 3 accepted")
	}
	if _, err := ParseHeaderEvent(strings.NewReader("type_len : 5 bits\ntime_delta : 20 bits\n")); err == nil {
		t.Error("5+20 bits accepted")
	}
	if _, err := ParseHeaderEvent(strings.NewReader("padding : type == x\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad padding: %v", err)
	}
}
