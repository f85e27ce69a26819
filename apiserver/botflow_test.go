//go:build integration

package apiserver_test

import (
	"net/http"
	"testing"
	"time"
)

// TestOldBotFlowSucceedsAndLeavesItsActivityRows replays what the replaced service's bot did,
// byte for byte in its payloads: sign up bot{i}@bot.com with password iambot4084 and today's
// birth date, log in, create a post with a Korean title, PUT it, DELETE it.
func TestOldBotFlowSucceedsAndLeavesItsActivityRows(t *testing.T) {
	today := time.Now().Format(time.DateOnly)
	for i := 1; i <= 3; i++ {
		email := "bot" + itoa(uint64(i)) + "@bot.com"
		t.Run(email, func(t *testing.T) {
			signup := api.do(t, "POST", "/user/signup/", map[string]string{
				"email": email, "nickname": "bot" + itoa(uint64(i)), "gender": []string{"M", "F"}[i%2],
				"password": "iambot4084", "password2": "iambot4084", "name": "봇" + itoa(uint64(i)), "birth_date": today,
			})
			expect(t, signup, http.StatusCreated)
			var created struct{ ID uint64 }
			signup.JSON(t, &created)

			login := expect(t, api.do(t, "POST", "/user/login/", map[string]string{"email": email, "password": "iambot4084"}), http.StatusOK)
			var tokens struct{ Token struct{ Access string } }
			login.JSON(t, &tokens)
			auth := bearer(tokens.Token.Access)

			create := expect(t, api.do(t, "POST", "/blog/create/", map[string]string{"title": "봇이 쓴 글 " + itoa(uint64(i)), "body": "안녕하세요, 봇입니다."}, auth), http.StatusCreated)
			var p post
			create.JSON(t, &p)
			path := "/blog/" + itoa(p.ID) + "/"
			update := expect(t, api.do(t, "PUT", path, map[string]string{"title": "봇이 고친 글", "body": "수정했습니다."}, auth), http.StatusOK)
			del := expect(t, api.do(t, "DELETE", path, nil, auth), http.StatusNoContent)

			id := created.ID
			expectRow(t, signup.RequestID, wantRow{Action: "user.signup", User: id, Method: "POST", Route: "/user/signup/", Path: "/user/signup/", Status: 201, Message: "POST user signup success"})
			expectRow(t, login.RequestID, wantRow{Action: "user.login", User: id, Method: "POST", Route: "/user/login/", Path: "/user/login/", Status: 200, Message: "POST user login success"})
			expectRow(t, create.RequestID, wantRow{Action: "post.create", User: id, Post: p.ID, Method: "POST", Route: "/blog/create/", Path: "/blog/create/", Status: 201, Message: "POST content create success"})
			expectRow(t, update.RequestID, wantRow{Action: "post.update", User: id, Post: p.ID, Method: "PUT", Route: "/blog/:id/", Path: path, Status: 200, Message: "PUT content update success"})
			expectRow(t, del.RequestID, wantRow{Action: "post.delete", User: id, Post: p.ID, Method: "DELETE", Route: "/blog/:id/", Path: path, Status: 204, Message: "DELETE content delete success"})
			// And nothing else was logged for this bot: the five rows, in order.
			if got := actionsOf(t, id); got != "user.signup user.login post.create post.update post.delete" {
				t.Fatalf("bot's activity rows: %s", got)
			}
		})
	}
}

// actionsOf lists the actions logged for a user, in id order.
func actionsOf(t *testing.T, user uint64) string {
	t.Helper()
	rows, err := testDB.DB.QueryContext(ctxTest, "SELECT action FROM activity_log WHERE user_id = ? ORDER BY id", user)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := ""
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		if out != "" {
			out += " "
		}
		out += a
	}
	return out
}
