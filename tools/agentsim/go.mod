module goc-adapter/tools/agentsim

go 1.22
