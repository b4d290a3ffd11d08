# expect: 5:17: undefined clock 'evn'; did you mean 'even'?
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
clock even = every 2
compute s1 when evn
output fuse(s1)
