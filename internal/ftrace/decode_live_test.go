package ftrace

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// The live source's decoding, end to end on what it reads: ParseHeaderPage,
// ParseHeaderEvent, ParseFormat, DecodePage and a Decoder on a page built
// as the kernel writes an uprobe event's records.

// Verbatim from this machine's tracefs (Linux 6.18): the page and event
// headers, and the format of an uprobe event gpu_scheduler/drm_run_job
// created with the kernel's field names.
const (
	liveTestHeaderPage = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n" +
		"\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n" +
		"\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n" +
		"\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;\n"
	liveTestHeaderEvent = "# compressed entry header\n\ttype_len    :    5 bits\n\ttime_delta  :   27 bits\n\tarray       :   32 bits\n\n" +
		"\tpadding     : type == 29\n\ttime_extend : type == 30\n\ttime_stamp : type == 31\n\tdata max type_len  == 28\n"
	liveTestFormat = `name: drm_run_job
ID: 2326
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:unsigned long __probe_ip;	offset:8;	size:8;	signed:0;
	field:u64 entity;	offset:16;	size:8;	signed:0;
	field:u64 id;	offset:24;	size:8;	signed:0;
	field:u64 fence;	offset:32;	size:8;	signed:0;
	field:__data_loc char[] name;	offset:40;	size:4;	signed:1;
	field:u32 job_count;	offset:44;	size:4;	signed:0;
	field:s32 hw_job_count;	offset:48;	size:4;	signed:1;

print fmt: "(%lx) entity=%Lu id=%Lu fence=%Lu name=\"%s\" job_count=%u hw_job_count=%d", REC->__probe_ip, REC->entity, REC->id, REC->fence, __get_str(name), REC->job_count, REC->hw_job_count
`
)

func liveTestSetup(t testing.TB) (PageLayout, HeaderEvent, *Decoder) {
	l, err := ParseHeaderPage(strings.NewReader(liveTestHeaderPage))
	if err != nil {
		t.Fatal(err)
	}
	if l != DefaultPageLayout || l.PageSize() != 4096 {
		t.Fatalf("layout %+v", l)
	}
	h, err := ParseHeaderEvent(strings.NewReader(liveTestHeaderEvent))
	if err != nil {
		t.Fatal(err)
	}
	if h != DefaultHeaderEvent {
		t.Fatalf("header %+v", h)
	}
	f, err := ParseFormat(strings.NewReader(liveTestFormat))
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != 2326 || len(f.Common) != 4 || len(f.Fields) != 7 {
		t.Fatalf("format %+v", f)
	}
	if fd, _ := f.Field("name"); !fd.DataLoc || fd.Offset != 40 {
		t.Fatalf("name field %+v", fd)
	}
	f.System = "gpu_scheduler" // as the live source sets it from the events dir
	d := NewDecoder([]*Format{f})
	if !d.Known(2326) {
		t.Fatal("drm_run_job not known to the decoder")
	}
	return l, h, d
}

// liveTestRecord is a drm_run_job record as the uprobe writes it.
func liveTestRecord(pid int32, id uint64, ring string) []byte {
	le := binary.LittleEndian
	rec := make([]byte, 52, 52+len(ring)+1)
	le.PutUint16(rec[0:], 2326)
	le.PutUint32(rec[4:], uint32(pid))
	le.PutUint64(rec[8:], 0x5555)
	le.PutUint64(rec[16:], 0xffff0000)
	le.PutUint64(rec[24:], id)
	le.PutUint64(rec[32:], 0xffff888100000000+id)
	le.PutUint32(rec[40:], uint32(len(ring)+1)<<16|52)
	le.PutUint32(rec[44:], 3)
	le.PutUint32(rec[48:], uint32(0xffffffff)) // -1
	return append(append(rec, ring...), 0)
}

// livePageBuilder writes a ring-buffer page as the kernel does.
type livePageBuilder struct {
	page []byte
	off  int
}

func newLivePage(ts uint64) *livePageBuilder {
	b := &livePageBuilder{page: make([]byte, 4096), off: 16}
	binary.LittleEndian.PutUint64(b.page, ts)
	return b
}

func (b *livePageBuilder) u32(v uint32) {
	binary.LittleEndian.PutUint32(b.page[b.off:], v)
	b.off += 4
}

func (b *livePageBuilder) event(delta uint32, rec []byte) {
	n := (len(rec) + 3) &^ 3
	if n <= 28*4 {
		b.u32(delta<<5 | uint32(n/4))
	} else {
		b.u32(delta << 5)
		b.u32(uint32(n + 4))
	}
	copy(b.page[b.off:], rec)
	b.off += n
}

func (b *livePageBuilder) extend(delta uint64) {
	b.u32(uint32(delta&(1<<27-1))<<5 | 30)
	b.u32(uint32(delta >> 27))
}

func (b *livePageBuilder) abs(ts uint64) {
	b.u32(uint32(ts&(1<<27-1))<<5 | 31)
	b.u32(uint32(ts >> 27))
}

func (b *livePageBuilder) padding(n int) {
	b.u32(1<<5 | 29)
	b.u32(uint32(n))
	b.off += n - 4
}

func (b *livePageBuilder) finish(missed uint64, stored bool) []byte {
	commit := uint64(b.off - 16)
	if missed > 0 {
		commit |= pageMissedEvents
		if stored {
			binary.LittleEndian.PutUint64(b.page[b.off:], missed)
			commit |= pageMissedStored
		}
	}
	binary.LittleEndian.PutUint64(b.page[8:], commit)
	return b.page
}

func TestLiveDecodePage(t *testing.T) {
	l, h, d := liveTestSetup(t)
	const t0 = 17_000_000_000_000
	b := newLivePage(t0)
	b.event(100, liveTestRecord(42, 1, "gfx"))
	b.extend(1 << 30)                                           // a time extend beyond 27 bits
	b.event(5, liveTestRecord(42, 2, "sdma0"))                  // t0+100+2^30+5
	b.padding(12)                                               // a discarded event
	b.abs(t0 + 5_000_000_000)                                   // absolute time stamp
	b.event(7, liveTestRecord(43, 3, strings.Repeat("r", 100))) // type_len 0: long record
	page := b.finish(17, true)

	var evs []event.Event
	info, err := DecodePage(l, h, page, func(ts uint64, rec []byte) {
		var ev event.Event
		if ok, err := d.Decode(ts, 1, rec, &ev); !ok || err != nil {
			t.Fatalf("record at %d not decoded: %v", ts, err)
		}
		evs = append(evs, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Missed || !info.LostKnown || info.Lost != 17 || info.Records != 3 || info.Timestamp != t0 {
		t.Errorf("info %+v", info)
	}
	want := []event.Event{
		{Time: t0 + 100, CPU: 1, PID: 42, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "gfx", Job: event.JobKey{Fence: 0xffff888100000001}, ID: 1, Entity: 0xffff0000, JobCount: 3, HWJobCount: -1},
		{Time: t0 + 100 + 1<<30 + 5, CPU: 1, PID: 42, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "sdma0", Job: event.JobKey{Fence: 0xffff888100000002}, ID: 2, Entity: 0xffff0000, JobCount: 3, HWJobCount: -1},
		{Time: t0 + 5_000_000_000 + 7, CPU: 1, PID: 43, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: strings.Repeat("r", 100), Job: event.JobKey{Fence: 0xffff888100000003}, ID: 3, Entity: 0xffff0000, JobCount: 3, HWJobCount: -1},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i := range want {
		if evs[i] != want[i] {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, evs[i], want[i])
		}
	}

	// Missed without a stored count; null padding ends the page.
	b = newLivePage(t0)
	b.event(1, liveTestRecord(1, 1, "gfx"))
	b.u32(29) // padding with delta 0: the rest is empty
	info, err = DecodePage(l, h, b.finish(5, false), func(uint64, []byte) {})
	if err != nil || !info.Missed || info.LostKnown || info.Records != 1 {
		t.Errorf("info %+v, err %v", info, err)
	}
}

// BenchmarkLiveDecode decodes full pages of drm_run_job records; ns/op is
// per event.
func BenchmarkLiveDecode(b *testing.B) {
	l, h, d := liveTestSetup(b)
	pb := newLivePage(1)
	n := 0
	rec := liveTestRecord(42, 1, "gfx")
	for pb.off+4+len(rec)+8 < 4096 {
		pb.event(100, rec)
		n++
	}
	page := pb.finish(0, false)
	evs := make([]event.Event, 0, n)
	b.ResetTimer()
	for i := 0; i < b.N; i += n {
		evs = evs[:0]
		DecodePage(l, h, page, func(ts uint64, rec []byte) {
			var ev event.Event
			if ok, _ := d.Decode(ts, 0, rec, &ev); ok {
				evs = append(evs, ev)
			}
		})
	}
}
