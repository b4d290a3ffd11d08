# expect: 3:1: second network line; the network is already 'fcn8s' (line 2)
network fcn8s
network tiny
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
output fuse(s1)
