"""``streamcls bench``: sweep input size x batch size x backend, report, recommend."""
