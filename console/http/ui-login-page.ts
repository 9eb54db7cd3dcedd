// The login form, rendered on the server: it works without script, and a failed login is a
// real 401 with the reason on the page.

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function loginPage(error: string | null): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleetprobe console: log in</title>
<link rel="stylesheet" href="/ui/app.css">
<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
</head>
<body class="login">
<main class="login-box">
<h1>fleetprobe console</h1>
<form method="post" action="/ui/login">
<input type="text" name="username" value="admin" autocomplete="username" hidden>
<label for="secret">Admin password or token</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<button type="submit">Log in</button>
</form>
<p class="hint">The console printed the admin token when it first started (also in <code>&lt;state_dir&gt;/admin-token</code>); <code>fleetprobe-console token reset</code> makes a new one.</p>
</main>
</body>
</html>
`;
}
