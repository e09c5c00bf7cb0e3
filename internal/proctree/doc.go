// Package proctree follows a process and its descendants, so that the GPU
// jobs a command submits can be told apart from other processes' jobs.
//
// A Tree answers whether a task (a thread id, as trace events carry it)
// belongs to the process tree rooted at one PID. It learns the tree two
// ways: by looking a task up in /proc the first time an event names it
// (its thread group, then the parent chain), and by scanning the tree
// (each task's children file) at an interval, so that a short-lived
// child whose events are read after it exited is still known.
//
// Kernel threads never belong to a tree: a job's submitting task is the
// one that queued it (the ioctl caller), not the scheduler thread that ran
// it, and Credit only credits submissions.
package proctree
