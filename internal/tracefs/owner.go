package tracefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LiveLockDir holds a lock file per gpuwatch tracefs instance,
// <instance>.lock, flocked by the process that owns the instance for as
// long as it lives. The kernel releases the lock when the owner dies
// however it dies, in any PID namespace: a lock another process can take
// proves the instance abandoned. An instance without a lock file here (of
// another mount namespace, or of an older gpuwatch) is never touched.
var LiveLockDir = "/run/gpuwatch"

// liveInstancePrefix names gpuwatch's instances: gpuwatch-<pid>-<random>.
// The pid is for people reading instances/; the random part keeps names
// unique across PID namespaces, where pids repeat.
const liveInstancePrefix = "gpuwatch-"

// liveOwner is the claim on one instance name.
type liveOwner struct {
	name string
	lock *os.File
}

// liveClaim picks a fresh instance name and takes its lock. The lock file
// appears under its final name already locked (renamed into place), so no
// other process can ever take a live owner's file for an abandoned one.
func liveClaim() (*liveOwner, error) {
	if err := os.MkdirAll(LiveLockDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the instance lock directory: %w", err)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("naming the tracefs instance: %w", err)
	}
	name := liveInstancePrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	f, err := os.CreateTemp(LiveLockDir, ".claim-*")
	if err != nil {
		return nil, fmt.Errorf("creating the instance lock: %w", err)
	}
	fail := func(err error) (*liveOwner, error) {
		os.Remove(f.Name())
		f.Close()
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fail(fmt.Errorf("locking %s: %w", f.Name(), err))
	}
	fmt.Fprintf(f, "pid %d\n", os.Getpid())
	if err := os.Rename(f.Name(), liveLockPath(name)); err != nil {
		return fail(fmt.Errorf("creating the instance lock: %w", err))
	}
	return &liveOwner{name: name, lock: f}, nil
}

func liveLockPath(name string) string { return filepath.Join(LiveLockDir, name+".lock") }

// release removes the lock file and unlocks; called once the instance is
// gone (a lock left behind lets the next gpuwatch remove the instance).
func (o *liveOwner) release(instanceGone bool) {
	if o == nil || o.lock == nil {
		return
	}
	if instanceGone {
		os.Remove(liveLockPath(o.name))
	}
	o.lock.Close() // unlocks
	o.lock = nil
}

// liveAbandoned reports whether the owner of the named instance is proven
// dead: its lock file exists and can be locked. On true the caller holds
// that lock until it calls the returned release.
func liveAbandoned(name string) (release func(), ok bool) {
	f, err := os.OpenFile(liveLockPath(name), os.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false // no proof either way: not ours to touch
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, false // its owner lives
	}
	return func() { f.Close() }, true
}

// liveRemoveStale removes gpuwatch instances whose owner is proven dead
// (left by a killed gpuwatch), and their lock files; it returns the names
// removed. Instances it cannot prove dead are left alone.
func liveRemoveStale(root string) []string {
	var removed []string
	ents, _ := os.ReadDir(filepath.Join(root, "instances"))
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, liveInstancePrefix) {
			continue
		}
		release, dead := liveAbandoned(name)
		if !dead {
			continue
		}
		dir := filepath.Join(root, "instances", name)
		os.WriteFile(filepath.Join(dir, "tracing_on"), []byte("0"), 0)
		os.WriteFile(filepath.Join(dir, "events", "enable"), []byte("0"), 0)
		if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			os.Remove(liveLockPath(name))
			removed = append(removed, name)
		}
		release()
	}
	// Lock files of instances that are gone (removed by hand, or a
	// different tracefs): dropped when their owner is dead.
	locks, _ := filepath.Glob(filepath.Join(LiveLockDir, liveInstancePrefix+"*.lock"))
	for _, p := range locks {
		name := strings.TrimSuffix(filepath.Base(p), ".lock")
		if _, err := os.Stat(filepath.Join(root, "instances", name)); err == nil {
			continue
		}
		if release, dead := liveAbandoned(name); dead {
			os.Remove(p)
			release()
		}
	}
	return removed
}
