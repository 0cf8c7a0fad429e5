module plspec

go 1.19
