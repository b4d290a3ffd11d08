# expect: 6:7: clock 'c' is already declared on line 5
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when c
clock c = every 2
clock c = every 3
output fuse(s1)
