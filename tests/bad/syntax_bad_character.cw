# expect: 4:17: unexpected character '%'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when % 2
output fuse(s1)
