package export

// Test hooks for the external export_test package.
var (
	LockWaitSeconds = &lockWaitSeconds
	LockName        = lockName
)
