package schema_test

import (
	"context"
	"testing"

	"github.com/logetl/logetl/internal/schema"
)

func TestEnsureDatabaseRejectsADSNWithoutDatabase(t *testing.T) {
	if err := schema.EnsureDatabase(context.Background(), "root@tcp(127.0.0.1:3306)/"); err == nil {
		t.Fatal("EnsureDatabase accepted a DSN that names no database")
	}
}

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	migs, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range migs {
		if m.Version != i+1 {
			t.Errorf("migration %d is %s (version %d): versions must run 1, 2, 3, ...", i, m.Name, m.Version)
		}
	}
}
