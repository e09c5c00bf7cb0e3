// gpusim fires functions shaped like the GPU scheduler's trace events, for
// uprobe-based trace events named after them (see livetest.go).
//
//   gpusim pattern GEN DURATION_MS ON_US OFF_US JOB_US INFLIGHT [fork]
//     A VF switched in for ON_US and out for OFF_US, again and again; the
//     ring executes jobs of JOB_US one after the other, only while switched
//     in, keeping INFLIGHT jobs submitted. Prints "start NS" (CLOCK_MONOTONIC
//     of the first switch-in) and "jobs N" (completions fired). With fork,
//     the program and a child it forks take turns: each fires the jobs of
//     every other on-phase (the same pattern from two processes).
//   gpusim load GEN DURATION_MS RATE
//     Fires run+done pairs at RATE events/s (0: as fast as possible) and
//     prints "fired N" (events fired).
//
// GEN is drm (4.16-6.16 names), 617 (6.17+) or amd (<= 4.15); or
// ioctl=RUN,DONE: a run is ioctl(999999, RUN, fence) and a completion
// ioctl(999999, DONE, fence), for tests that map the real tracepoint
// syscalls:sys_enter_ioctl onto scheduler events (the fd is invalid: the
// call does nothing but fire the tracepoint).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE __attribute__((noipa, noinline, used))

PROBE void drm_sched_job(uint64_t entity, uint64_t id, uint64_t fence, const char *name, uint32_t job_count, int32_t hw_job_count) { __asm__ volatile("" ::: "memory"); }
PROBE void drm_run_job(uint64_t entity, uint64_t id, uint64_t fence, const char *name, uint32_t job_count, int32_t hw_job_count) { __asm__ volatile("" ::: "memory"); }
PROBE void drm_sched_process_job(uint64_t fence) { __asm__ volatile("" ::: "memory"); }
PROBE void drm_sched_job_queue(uint64_t ctx, uint64_t seqno, const char *name, uint32_t job_count, int32_t hw_job_count) { __asm__ volatile("" ::: "memory"); }
PROBE void drm_sched_job_run(uint64_t ctx, uint64_t seqno, const char *name, uint32_t job_count, int32_t hw_job_count) { __asm__ volatile("" ::: "memory"); }
PROBE void drm_sched_job_done(uint64_t ctx, uint64_t seqno) { __asm__ volatile("" ::: "memory"); }
PROBE void amd_sched_job(uint64_t entity, uint64_t id, uint64_t fence, const char *name, uint32_t job_count, int32_t hw_job_count) { __asm__ volatile("" ::: "memory"); }
PROBE void amd_sched_process_job(uint64_t fence) { __asm__ volatile("" ::: "memory"); }

static int gen; // 0 drm, 1 617, 2 amd, 3 ioctl
static unsigned long ioctl_run, ioctl_done;
static const char *ring = "gfx";
static const uint64_t entity = 0xffff888012340000ull, ctx = 77;

static uint64_t fence_of(uint64_t k) { return 0xffff888100000000ull + k * 0x100; }

static void submit(uint64_t k, int inflight) {
	switch (gen) {
	case 0:
		drm_sched_job(entity, k + 1, fence_of(k), ring, 0, inflight);
		drm_run_job(entity, k + 1, fence_of(k), ring, 0, inflight);
		break;
	case 1:
		drm_sched_job_queue(ctx, k + 1, ring, 0, inflight);
		drm_sched_job_run(ctx, k + 1, ring, 0, inflight);
		break;
	case 2:
		amd_sched_job(entity, k + 1, fence_of(k), ring, 0, inflight);
		break;
	case 3:
		syscall(SYS_ioctl, 999999, ioctl_run, fence_of(k));
		break;
	}
}

static void complete(uint64_t k) {
	switch (gen) {
	case 0:
		drm_sched_process_job(fence_of(k));
		break;
	case 1:
		drm_sched_job_done(ctx, k + 1);
		break;
	case 2:
		amd_sched_process_job(fence_of(k));
		break;
	case 3:
		syscall(SYS_ioctl, 999999, ioctl_done, fence_of(k));
		break;
	}
}

static int64_t now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
	struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

// pattern_fork is the pattern from two processes: job k (in the order of
// completion) is fired by the parent when its deadline falls in an even
// on-phase, by the child in an odd one. The ring's state (the next job,
// the gaps) is shared memory, handed over through next: only the owner of
// job next fires it, then publishes next+1. A process sleeps until 1 ms
// before the first deadline it owns, then spins.
static int pattern_fork(int64_t dur, int64_t on, int64_t off, int64_t job, int inflight) {
	size_t maxgaps = 2 * (dur / job + 16);
	struct shared {
		uint64_t next, submitted, ready;
		int64_t last;
		size_t ngaps;
		int64_t gaps[];
	} *sh = mmap(NULL, sizeof *sh + maxgaps * sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("gpusim: mmap");
		return 1;
	}
	setpriority(PRIO_PROCESS, 0, -20);
	int64_t start = now() + 1000000, end = start + dur, period = on + off;
	fflush(stdout);
	pid_t child = fork();
	if (child < 0) {
		perror("gpusim: fork");
		return 1;
	}
	int me = child == 0;
	if (!me) {
		while (now() < start)
			;
		for (; sh->submitted < (uint64_t)inflight; sh->submitted++)
			submit(sh->submitted, inflight);
		__atomic_store_n(&sh->ready, 1, __ATOMIC_RELEASE);
	}
	while (!__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE))
		;
	for (;;) {
		int64_t t = now();
		if (t >= end)
			break;
		uint64_t k = __atomic_load_n(&sh->next, __ATOMIC_ACQUIRE);
		int64_t due = (int64_t)(k + 1) * job; // on-time of job k's completion
		int64_t cyc = (due - 1) / on;
		int64_t at = start + cyc * period + (due - cyc * on); // its wall time
		if ((cyc & 1) != me) {
			// The other process's phase: sleep until 1 ms before ours.
			int64_t mine = start + (cyc + 1) * period + job;
			if (mine - 1000000 > t)
				sleep_until(mine - 1000000 < end ? mine - 1000000 : end);
			continue;
		}
		if (at - 1000000 > t) {
			sleep_until(at - 1000000 < end ? at - 1000000 : end);
			continue;
		}
		if (t < at)
			continue;
		int64_t c = now();
		if (sh->last && c - sh->last > 2 * job && sh->ngaps < maxgaps - 1) {
			sh->gaps[sh->ngaps++] = sh->last;
			sh->gaps[sh->ngaps++] = c;
		}
		sh->last = c;
		complete(k);
		submit(sh->submitted++, inflight);
		__atomic_store_n(&sh->next, k + 1, __ATOMIC_RELEASE);
	}
	if (me)
		_exit(0);
	int status;
	waitpid(child, &status, 0);
	printf("start %lld\njobs %llu\nchild %d\n", (long long)start, (unsigned long long)sh->next, (int)child);
	for (size_t i = 0; i < sh->ngaps; i += 2)
		printf("gap %lld %lld\n", (long long)sh->gaps[i], (long long)sh->gaps[i + 1]);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: gpusim pattern|load GEN DURATION_MS ...\n");
		return 2;
	}
	gen = !strcmp(argv[2], "617") ? 1 : !strcmp(argv[2], "amd") ? 2 : 0;
	if (!strncmp(argv[2], "ioctl=", 6)) {
		char *end;
		gen = 3;
		ioctl_run = strtoul(argv[2] + 6, &end, 0);
		ioctl_done = *end == ',' ? strtoul(end + 1, NULL, 0) : 0;
	}
	int64_t dur = atoll(argv[3]) * 1000000;
	if (!strcmp(argv[1], "pattern") && argc == 9 && !strcmp(argv[8], "fork"))
		return pattern_fork(dur, atoll(argv[4]) * 1000, atoll(argv[5]) * 1000, atoll(argv[6]) * 1000, atoi(argv[7]));
	if (!strcmp(argv[1], "pattern") && argc == 8) {
		int64_t on = atoll(argv[4]) * 1000, off = atoll(argv[5]) * 1000, job = atoll(argv[6]) * 1000;
		int inflight = atoi(argv[7]);
		// Top priority where allowed (not SCHED_FIFO: its throttling stops
		// a spinning task for 50 ms a second), so the pattern is bent less
		// by other work on the machine; gaps it did fire are printed anyway.
		setpriority(PRIO_PROCESS, 0, -20);
		int64_t start = now() + 1000000, end = start + dur, last = 0;
		uint64_t next = 0, submitted = 0;
		int64_t *gaps = calloc(2 * (dur / job + 16), sizeof(int64_t));
		size_t ngaps = 0;
		while (now() < start)
			;
		for (; submitted < (uint64_t)inflight; submitted++)
			submit(submitted, inflight);
		for (;;) {
			int64_t t = now() - start;
			if (t + start >= end)
				break;
			int64_t cyc = t / (on + off), rem = t % (on + off);
			int64_t ontime = cyc * on + (rem < on ? rem : on);
			while ((int64_t)(next + 1) * job <= ontime) {
				int64_t c = now();
				if (last && c - last > 2 * job && ngaps < 2 * (size_t)(dur / job + 16) - 1) {
					gaps[ngaps++] = last;
					gaps[ngaps++] = c;
				}
				last = c;
				complete(next++);
				submit(submitted++, inflight);
			}
		}
		printf("start %lld\njobs %llu\n", (long long)start, (unsigned long long)next);
		for (size_t i = 0; i < ngaps; i += 2)
			printf("gap %lld %lld\n", (long long)gaps[i], (long long)gaps[i + 1]);
		return 0;
	}
	if (!strcmp(argv[1], "load") && argc == 5) {
		int64_t rate = atoll(argv[4]);
		int64_t start = now(), end = start + dur;
		uint64_t fired = 0, k = 0;
		for (;;) {
			int64_t t = now();
			if (t >= end)
				break;
			if (rate > 0 && (int64_t)fired * 1000000000 / rate > t - start)
				continue;
			for (int i = 0; i < 64; i++) {
				submit(k, 1);
				complete(k);
				k++;
			}
			fired += gen == 2 ? 2 * 64 : 3 * 64;
		}
		printf("fired %llu\n", (unsigned long long)fired);
		return 0;
	}
	fprintf(stderr, "gpusim: bad arguments\n");
	return 2;
}
