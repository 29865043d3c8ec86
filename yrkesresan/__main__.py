from yrkesresan.cli import app

app(prog_name="yrkesresan")
