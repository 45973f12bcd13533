module example.com/echoserver

go 1.22
