"""Command line and process entry points of Yrkesresan."""
