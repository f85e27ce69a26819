package tablespec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Policy is the part of a spec that decides what a file holds: the exported columns with their
// MySQL types and treatments. Every Parquet file carries its policy in its metadata, so `logetl
// decrypt` reads any table's file without the configuration, and the lake's layout descriptor
// records the policy's fingerprint, so a configuration that would write different files into
// the same table is refused.
type Policy struct {
	Table      string         `json:"table"`
	TimeColumn string         `json:"time_column"`
	IDColumn   string         `json:"id_column"`
	Columns    []PolicyColumn `json:"columns"`
}

// PolicyColumn is one exported column of a Policy.
type PolicyColumn struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Nullable  bool      `json:"nullable,omitempty"`
	Treatment Treatment `json:"treatment"`
	As        string    `json:"as"`
	Parquet   string    `json:"parquet,omitempty"`
	Domain    string    `json:"domain,omitempty"`
}

// Policy returns the spec's policy. Types are normalized, so MySQL's and MariaDB's spellings of
// one type give one fingerprint.
func (s Spec) Policy() Policy {
	p := Policy{Table: s.Name, TimeColumn: s.TimeColumn, IDColumn: s.IDColumn}
	for _, c := range s.Exported() {
		pc := PolicyColumn{Name: c.Name, Type: c.typ.String(), Nullable: c.Nullable, Treatment: c.Treatment, As: c.ParquetName(), Parquet: c.Parquet}
		if c.Treatment == Pseudonym {
			pc.Domain = c.PseudonymDomain()
		}
		p.Columns = append(p.Columns, pc)
	}
	return p
}

// Fingerprint is "sha256:<hex>" of the policy's columns, time and id columns (not the table
// name): equal fingerprints write files of the same schema with the same protection.
func (p Policy) Fingerprint() string {
	q := p
	q.Table = ""
	b, _ := json.Marshal(q) // a struct of strings and bools always marshals
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Marshal renders the policy as compact JSON, the form stored in file metadata.
func (p Policy) Marshal() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// ParsePolicy reads a policy from file metadata.
func ParsePolicy(s string) (Policy, error) {
	var p Policy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Policy{}, fmt.Errorf("%w: policy in file metadata: %v", ErrInvalid, err)
	}
	return p, nil
}

// Spec turns a policy back into a validated spec of its exported columns.
func (p Policy) Spec() (Spec, error) {
	s := Spec{Name: p.Table, MySQLTable: p.Table, TimeColumn: p.TimeColumn, IDColumn: p.IDColumn}
	if s.Name == "" {
		s.Name, s.MySQLTable = "unnamed", "unnamed"
	}
	for _, pc := range p.Columns {
		c := Column{Name: pc.Name, Type: pc.Type, Nullable: pc.Nullable, Treatment: pc.Treatment, As: pc.As, Parquet: pc.Parquet}
		if pc.Treatment == Pseudonym {
			c.Domain = pc.Domain
		}
		s.Columns = append(s.Columns, c)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}
