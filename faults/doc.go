// Package faults holds rtcchat's fault tests (issue 8): two real chat
// processes in network namespaces the tests create, under packet loss
// (iptables' statistic match), long delay with jitter and reordering (a
// delaying router of the test's own, on a TUN device), a link cut for 20 s,
// and a peer killed with SIGKILL. The package has no code outside its tests;
// the processes are the children of package bench, re-executed from the test
// binary inside `ip netns exec`. The tests need root, ip and iptables, and
// skip with the reason when they are missing.
package faults
