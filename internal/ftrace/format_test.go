package ftrace

import (
	"os"
	"strings"
	"testing"
)

func fmtLoad(t testing.TB, name string) *Format {
	t.Helper()
	fh, err := os.Open("testdata/format/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	f, err := ParseFormat(fh)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// Machine-verbatim kernel text (see testdata/format/README).
func TestParseFormatSchedSwitch(t *testing.T) {
	f := fmtLoad(t, "sched_switch.format")
	if f.Name != "sched_switch" || f.ID == 0 || len(f.Common) != 4 {
		t.Fatalf("got name %q id %d %d common fields", f.Name, f.ID, len(f.Common))
	}
	comm, ok := f.Field("prev_comm")
	if !ok || comm.ArrayLen != 16 || comm.Size != 16 || comm.Type != "char" || comm.Offset != 8 {
		t.Errorf("prev_comm = %+v", comm)
	}
	pid, ok := f.Field("common_pid")
	if !ok || pid.Offset != 4 || pid.Size != 4 || !pid.Signed {
		t.Errorf("common_pid = %+v", pid)
	}
	if !strings.HasPrefix(f.PrintFmt, `"prev_comm=%s`) {
		t.Errorf("print fmt %q", f.PrintFmt)
	}
}

func TestParseFormatIoctl(t *testing.T) {
	f := fmtLoad(t, "sys_enter_ioctl.format")
	nr, ok := f.Field("__syscall_nr")
	if !ok || nr.Size != 4 || !nr.Signed || nr.Offset != 8 {
		t.Errorf("__syscall_nr = %+v", nr)
	}
	cmd, ok := f.Field("cmd")
	if !ok || cmd.Size != 8 || cmd.Offset != 24 {
		t.Errorf("cmd = %+v", cmd)
	}
}

func TestParseFormatDataLoc(t *testing.T) {
	f := fmtLoad(t, "block_rq_complete.format")
	cmd, ok := f.Field("cmd")
	if !ok || !cmd.DataLoc || cmd.RelLoc || cmd.Type != "__data_loc char[]" || cmd.ArrayLen != 0 || cmd.Size != 4 {
		t.Errorf("cmd = %+v", cmd)
	}
	rwbs, _ := f.Field("rwbs")
	if rwbs.ArrayLen != 10 {
		t.Errorf("rwbs = %+v", rwbs)
	}
}

func TestParseFormatDerivedDRM(t *testing.T) {
	f := fmtLoad(t, "drm_run_job.format")
	want := []Field{
		{Name: "entity", Type: "struct drm_sched_entity *", Offset: 8, Size: 8},
		{Name: "fence", Type: "struct dma_fence *", Offset: 16, Size: 8},
		{Name: "name", Type: "__data_loc char[]", Offset: 24, Size: 4, DataLoc: true},
		{Name: "id", Type: "uint64_t", Offset: 32, Size: 8},
		{Name: "job_count", Type: "u32", Offset: 40, Size: 4},
		{Name: "hw_job_count", Type: "int", Offset: 44, Size: 4, Signed: true},
	}
	if len(f.Fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(f.Fields), len(want))
	}
	for i := range want {
		if f.Fields[i] != want[i] {
			t.Errorf("field %d = %+v, want %+v", i, f.Fields[i], want[i])
		}
	}
}

func TestParseFormatRelLocAndOld(t *testing.T) {
	text := "name: x\nID: 7\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\n" +
		"\tfield:__rel_loc char[] s;\toffset:8;\tsize:4;\tsigned:0;\n" +
		"\tfield:char comm[TASK_COMM_LEN];\toffset:12;\tsize:16;\tsigned:0;\n"
	f, err := ParseFormat(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.Field("s")
	if !s.RelLoc || s.DataLoc {
		t.Errorf("s = %+v", s)
	}
	c, _ := f.Field("comm")
	if c.ArrayLen != 16 {
		t.Errorf("comm = %+v", c)
	}
}

func TestParseFormatErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"name: x\n", "no ID"},
		{"ID: 3\n", "no name"},
		{"name: x\nID: 99999\n", "line 2"},
		{"name: x\nID: 1\nformat:\n\tfield:int a;\toffset:x;\tsize:4;\n", "line 4"},
		{"name: x\nID: 1\nformat:\n\tfield:int a;\tsize:4;\n", "line 4"},
		{"name: x\nID: 1\ngarbage here\n", "line 3: expected"},
	} {
		_, err := ParseFormat(strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.text, err, tc.want)
		}
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, n := range []string{"sched_switch.format", "sys_enter_ioctl.format", "block_rq_complete.format", "drm_run_job.format"} {
		b, err := os.ReadFile("testdata/format/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseFormat(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, fd := range append(fm.Common, fm.Fields...) {
			if fd.Size <= 0 || fd.Offset < 0 || fd.Name == "" {
				t.Fatalf("accepted bad field %+v", fd)
			}
		}
	})
}
