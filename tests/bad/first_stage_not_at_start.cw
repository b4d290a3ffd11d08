# expect: 3:12: the first stage must start at the network's first layer 'conv1_1'
network fcn8s
stage s1 = conv2_1 .. pool3 head score_pool3
compute s1 when 1
output fuse(s1)
