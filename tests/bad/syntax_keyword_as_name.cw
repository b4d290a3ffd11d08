# expect: 3:7: unexpected 'every'; expected a name ('every' is a reserved word
network fcn8s
clock every = 1
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
output fuse(s1)
