package tablespec

import (
	"strings"
	"testing"
)

// laravelActivityLog is spatie/laravel-activitylog's table as MariaDB's information_schema
// describes it after its published migrations (create_activity_log_table, add_event_column,
// add_batch_uuid_column): no index on created_at.
func laravelActivityLog() TableInfo {
	return TableInfo{
		Database: "shop", Table: "activity_log",
		Columns: []ColumnInfo{
			{Name: "id", ColumnType: "bigint(20) unsigned", Key: "PRI", Extra: "auto_increment"},
			{Name: "log_name", ColumnType: "varchar(255)", Nullable: true, Key: "MUL"},
			{Name: "description", ColumnType: "text"},
			{Name: "subject_type", ColumnType: "varchar(255)", Nullable: true, Key: "MUL"},
			{Name: "event", ColumnType: "varchar(255)", Nullable: true},
			{Name: "subject_id", ColumnType: "bigint(20) unsigned", Nullable: true},
			{Name: "causer_type", ColumnType: "varchar(255)", Nullable: true, Key: "MUL"},
			{Name: "causer_id", ColumnType: "bigint(20) unsigned", Nullable: true},
			{Name: "properties", ColumnType: "longtext", Nullable: true, JSON: true},
			{Name: "batch_uuid", ColumnType: "char(36)", Nullable: true},
			{Name: "created_at", ColumnType: "timestamp", Nullable: true},
			{Name: "updated_at", ColumnType: "timestamp", Nullable: true},
		},
		Indexes: []IndexInfo{
			{Name: "PRIMARY", Unique: true, Columns: []string{"id"}},
			{Name: "activity_log_log_name_index", Columns: []string{"log_name"}},
			{Name: "subject", Columns: []string{"subject_type", "subject_id"}},
			{Name: "causer", Columns: []string{"causer_type", "causer_id"}},
		},
	}
}

func TestSuggestStartsFromDropAndFlagsPersonalData(t *testing.T) {
	sg := Suggest(laravelActivityLog(), "")
	s := sg.Spec
	if s.Name != "activity_log" || s.MySQLTable != "shop.activity_log" || s.IDColumn != "id" || s.TimeColumn != "created_at" {
		t.Fatalf("spec %s %s id %s time %s", s.Name, s.MySQLTable, s.IDColumn, s.TimeColumn)
	}
	want := map[string]Treatment{
		"id": Clear, "created_at": Clear, "log_name": Clear, "event": Clear, "subject_type": Clear, "causer_type": Clear,
		"description": Drop, "subject_id": Drop, "causer_id": Drop, "properties": Drop, "batch_uuid": Drop, "updated_at": Drop,
	}
	for _, c := range s.Columns {
		if c.Treatment != want[c.Name] {
			t.Errorf("%s: %s, want %s", c.Name, c.Treatment, want[c.Name])
		}
	}
	for _, col := range []string{"causer_id", "properties", "description"} {
		if sg.Review[col] == "" {
			t.Errorf("%s is not flagged for review", col)
		}
	}
	if !strings.Contains(sg.Review["causer_id"], "pseudonym") {
		t.Errorf("causer_id review %q should suggest a pseudonym", sg.Review["causer_id"])
	}
	if c, _ := s.Column("properties"); c.Type != "json" {
		t.Errorf("properties type %q, want json (MariaDB's JSON is LONGTEXT with a check)", c.Type)
	}
	if sg.Index != "" || !strings.Contains(sg.AlterTable, "ADD INDEX `logetl_window` (`created_at`, `id`)") {
		t.Errorf("index %q alter %q", sg.Index, sg.AlterTable)
	}
	// The printed spec parses and validates as it is: a reviewer edits a valid file.
	yml := sg.YAML()
	f, err := Parse([]byte(yml))
	if err != nil {
		t.Fatalf("suggested YAML does not parse: %v\n%s", err, yml)
	}
	if got := f.Tables[0].Policy().Fingerprint(); got != s.Policy().Fingerprint() {
		t.Errorf("printed spec differs from the suggestion\n%s", yml)
	}
	for _, line := range []string{"MISSING INDEX", "REVIEW: identifies a person", "ALTER TABLE `shop`.`activity_log`"} {
		if !strings.Contains(yml, line) {
			t.Errorf("YAML lacks %q:\n%s", line, yml)
		}
	}
}

func TestWindowIndexAcceptsTimeIDOrTimeWithTheIDAsPrimaryKey(t *testing.T) {
	tests := []struct {
		name    string
		indexes []IndexInfo
		want    string
	}{
		{"time then id", []IndexInfo{{Name: "w", Columns: []string{"at", "id"}}}, "w"},
		{"time alone, id the primary key", []IndexInfo{{Name: "PRIMARY", Columns: []string{"id"}}, {Name: "t", Columns: []string{"at"}}}, "t"},
		{"time alone, another primary key", []IndexInfo{{Name: "PRIMARY", Columns: []string{"id", "tenant"}}, {Name: "t", Columns: []string{"at"}}}, ""},
		{"time then another column", []IndexInfo{{Name: "PRIMARY", Columns: []string{"id"}}, {Name: "t", Columns: []string{"at", "kind"}}}, ""},
		{"id then time", []IndexInfo{{Name: "x", Columns: []string{"id", "at"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TableInfo{Indexes: tt.indexes}.WindowIndex("at", "id")
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("WindowIndex = %q %v, want %q", got, ok, tt.want)
			}
		})
	}
}
