# expect: 3:23: unknown layer 'pool33' in network fcn8s; did you mean 'pool3'?
network fcn8s
stage s1 = conv1_1 .. pool33 head score_pool3
compute s1 when 1
output fuse(s1)
