// Package archtest holds the import rules of the module as a test (arch_test.go): which
// packages the logetl binary may contain, what workflow code may import, and that the
// local-services tooling stays out of the product. It has no code of its own.
package archtest
